import { influxUrl } from './harness.js';

export async function influxQuery(db: string, q: string, url = influxUrl()): Promise<{ columns: string[]; values: unknown[][] }[]> {
  const r = await fetch(`${url}/query?db=${encodeURIComponent(db)}&epoch=ns&q=${encodeURIComponent(q)}`);
  const b = (await r.json()) as { results: { series?: { columns: string[]; values: unknown[][] }[]; error?: string }[] };
  if (b.results[0]?.error) throw new Error(b.results[0].error);
  return b.results[0]?.series ?? [];
}

/** event_id → number of points carrying it. */
export async function storedEventIds(db: string, measurement = 'fall_events', url = influxUrl()): Promise<Map<string, number>> {
  const series = await influxQuery(db, `SELECT "event_id" FROM "${measurement}"`, url);
  const m = new Map<string, number>();
  for (const s of series) for (const v of s.values) m.set(String(v[1]), (m.get(String(v[1])) ?? 0) + 1);
  return m;
}

export async function influxWrite(db: string, lines: string, url = influxUrl()): Promise<void> {
  await fetch(`${url}/query?q=${encodeURIComponent(`CREATE DATABASE "${db}"`)}`, { method: 'POST' });
  const r = await fetch(`${url}/write?db=${encodeURIComponent(db)}&precision=ns`, { method: 'POST', body: lines });
  if (r.status !== 204) throw new Error(`influx write: ${r.status} ${await r.text()}`);
}

let n = 0;
export const uniqueDb = (prefix: string) => `${prefix}_${process.pid}_${Date.now()}_${n++}`;
