// Reading stored fall events back: from the event log (embedded store) or from InfluxDB.
import type { InfluxDB } from 'influx';
import type { EventStore } from './event-store.js';
import { isDecided } from '../domain/records.js';

export interface EventQuery {
  deviceId?: string;
  sinceMs?: number;
  limit: number;
}

export interface EventRow {
  time: string;
  device_id: string;
  location: string;
  event: string;
  prob: number;
  source: string;
  event_id: string;
  /** false for a device report the decision policy did not turn into an alert. */
  decided: boolean;
}

/** Newest first, from the retained log segments. */
export function queryLog(store: EventStore, q: EventQuery): EventRow[] {
  const rows: EventRow[] = [];
  for (const r of store.scan()) {
    if (r.kind !== 'fall') continue;
    if (q.deviceId !== undefined && r.device_id !== q.deviceId) continue;
    const ms = Number(BigInt(r.ts_ns) / 1_000_000n);
    if (q.sinceMs !== undefined && ms < q.sinceMs) continue;
    rows.push({ time: new Date(ms).toISOString(), device_id: r.device_id, location: r.location, event: r.event, prob: r.prob, source: r.source, event_id: r.event_id, decided: isDecided(r) });
  }
  rows.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return rows.slice(0, q.limit);
}

export async function queryInflux(influx: InfluxDB, measurement: string, q: EventQuery): Promise<EventRow[]> {
  const { escape } = await import('influx');
  const where: string[] = [];
  if (q.deviceId !== undefined) where.push(`"device_id" = ${escape.stringLit(q.deviceId)}`);
  if (q.sinceMs !== undefined) where.push(`time >= ${Math.floor(q.sinceMs)}ms`);
  const sql = `SELECT "prob", "event_id", "decided", "device_id", "location", "event", "source" FROM ${escape.measurement(measurement)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY time DESC LIMIT ${q.limit}`;
  const rows = await influx.query<{ time: Date; prob: number; event_id: string; decided?: boolean | null; device_id: string; location: string; event: string; source: string }>(sql);
  return rows.map((r) => ({ time: r.time.toISOString(), device_id: r.device_id, location: r.location, event: r.event, prob: r.prob, source: r.source ?? 'sensor', event_id: r.event_id, decided: isDecided(r) }));
}
