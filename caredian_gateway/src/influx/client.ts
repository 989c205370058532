import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';

/** The client, when InfluxDB is configured; the library is loaded only then (~1 MB of heap the embedded default does without). */
export async function createInfluxClient(c: Config): Promise<InfluxDB | undefined> {
  if (!c.influx_url) return undefined;
  const { InfluxDB } = await import('influx');
  const u = new URL(c.influx_url);
  const protocol = u.protocol === 'https:' ? 'https' : 'http';
  return new InfluxDB({
    hosts: [{ host: u.hostname, port: Number(u.port || (protocol === 'https' ? 443 : 80)), protocol, path: u.pathname.replace(/\/$/, ''), options: { rejectUnauthorized: c.influx_verify_tls } }],
    database: c.influx_db,
    username: c.influx_username,
    password: c.influx_password,
    // The writer does its own retries with backoff; the pool should fail fast.
    pool: { requestTimeout: c.influx_timeout_sec * 1000, maxRetries: 0 },
  });
}
