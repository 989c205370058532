// Usage totals per key (and optionally per upstream and per day), from the event log or InfluxDB.
import type { InfluxDB } from 'influx';
import type { EventStore } from '../events/event-store.js';
import { API_USAGE_MEASUREMENT } from '../domain/measurements.js';

export interface UsageQuery {
  sinceMs?: number;
  untilMs?: number;
}

export interface Totals {
  requests: number;
  errors: number;
  request_bytes: number;
  response_bytes: number;
}

export interface UsageReport {
  keys: ({ key: string } & Totals)[];
  by_upstream: ({ key: string; upstream: string } & Totals)[];
  by_day: ({ key: string; day: string } & Totals)[];
}

const zero = (): Totals => ({ requests: 0, errors: 0, request_bytes: 0, response_bytes: 0 });
const add = (t: Totals, r: { error: number; request_bytes: number; response_bytes: number }, n = 1) => {
  t.requests += n;
  t.errors += r.error;
  t.request_bytes += r.request_bytes;
  t.response_bytes += r.response_bytes;
};

function report(rows: { key: string; upstream: string; day: string; requests: number; error: number; request_bytes: number; response_bytes: number }[]): UsageReport {
  const keys = new Map<string, Totals>();
  const ups = new Map<string, Totals>();
  const days = new Map<string, Totals>();
  for (const r of rows) {
    const bump = (m: Map<string, Totals>, k: string) => {
      let t = m.get(k);
      if (!t) m.set(k, (t = zero()));
      add(t, r, r.requests);
    };
    bump(keys, r.key);
    bump(ups, `${r.key}\u0000${r.upstream}`);
    bump(days, `${r.key}\u0000${r.day}`);
  }
  const split = (k: string) => k.split('\u0000') as [string, string];
  return {
    keys: [...keys].map(([key, t]) => ({ key, ...t })).sort((a, b) => a.key.localeCompare(b.key)),
    by_upstream: [...ups].map(([k, t]) => ({ key: split(k)[0], upstream: split(k)[1], ...t })).sort((a, b) => a.key.localeCompare(b.key) || a.upstream.localeCompare(b.upstream)),
    by_day: [...days].map(([k, t]) => ({ key: split(k)[0], day: split(k)[1], ...t })).sort((a, b) => a.key.localeCompare(b.key) || a.day.localeCompare(b.day)),
  };
}

export function usageFromLog(store: EventStore, q: UsageQuery): UsageReport {
  const rows = [];
  for (const r of store.scan()) {
    if (r.kind !== 'usage') continue;
    const ms = Number(BigInt(r.ts_ns) / 1_000_000n);
    if ((q.sinceMs !== undefined && ms < q.sinceMs) || (q.untilMs !== undefined && ms >= q.untilMs)) continue;
    rows.push({ key: r.key, upstream: r.upstream, day: new Date(ms).toISOString().slice(0, 10), requests: 1, error: r.error, request_bytes: r.request_bytes, response_bytes: r.response_bytes });
  }
  return report(rows);
}

export async function usageFromInflux(influx: InfluxDB, q: UsageQuery): Promise<UsageReport> {
  const { escape } = await import('influx');
  const where: string[] = [];
  if (q.sinceMs !== undefined) where.push(`time >= ${Math.floor(q.sinceMs)}ms`);
  if (q.untilMs !== undefined) where.push(`time < ${Math.floor(q.untilMs)}ms`);
  const sql = `SELECT count("request_bytes") AS requests, sum("error") AS error, sum("request_bytes") AS request_bytes, sum("response_bytes") AS response_bytes FROM ${escape.measurement(API_USAGE_MEASUREMENT)}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} GROUP BY time(1d), "key", "upstream" fill(none)`;
  const rows = await influx.query<{ time: Date; key: string; upstream: string; requests: number; error: number; request_bytes: number; response_bytes: number }>(sql);
  return report(rows.map((r) => ({ key: r.key, upstream: r.upstream, day: r.time.toISOString().slice(0, 10), requests: r.requests, error: r.error, request_bytes: r.request_bytes, response_bytes: r.response_bytes })));
}
