// GET /metrics on the admin listener of a real gateway (with InfluxDB), over loopback: its auth,
// the format, and that the numbers follow what devices actually send.
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import express from 'express';
import type { AddressInfo } from 'node:net';
import { createAdminApp } from '../../src/admin/admin-app.js';
import { createLogger } from '../../src/core/logger.js';
import { syntheticFall } from '../../src/cli/synthetic-motion.js';
import { MetricsModule } from '../../src/metrics/metrics-module.js';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, influxUrl, LogSink, startGateway, waitFor, type Harness } from '../support/harness.js';
import { has, parseExposition, total, type Family } from './exposition.js';

const HUB: [string, string] = ['hub-ward3', 'another-long-secret-2'];
let h: Harness;
beforeAll(async () => {
  const clients = { [CLIENT_ID]: { secret: CLIENT_SECRET, devices: ['*'] }, [HUB[0]]: { secret: HUB[1], devices: ['ward3-*'] } };
  h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: `metrics_${Date.now()}`, CC_CLIENTS_JSON: JSON.stringify(clients) });
});
afterAll(() => h.close());

const scrape = async (): Promise<Map<string, Family>> => {
  const r = await fetch(`${h.adminUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return parseExposition(await r.text());
};
const post = async (path: string, body: unknown, token: string) => fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
const requests = (m: Map<string, Family>, labels: Record<string, string>) => total(m, 'caredian_ingest_requests_total', labels);

describe('GET /metrics: who may read it', () => {
  test('needs the admin token as Authorization: Bearer, like the rest of the admin listener', async () => {
    const none = await fetch(`${h.adminUrl}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="caredian-admin"');
    expect(await none.text()).not.toMatch(/caredian_/);
    for (const auth of ['Bearer nope', `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}`, ADMIN_TOKEN, `Bearer ${ADMIN_TOKEN}x`]) {
      const r = await fetch(`${h.adminUrl}/metrics`, { headers: { Authorization: auth } });
      expect([auth, r.status]).toEqual([auth, 401]);
    }
    const ok = await fetch(`${h.adminUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(ok.headers.get('cache-control')).toBe('no-store');
  });

  test('is not on the device listener, with or without a token', async () => {
    const device = await h.token();
    for (const auth of [undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${device}`]) {
      const r = await fetch(`${h.url}/metrics`, { headers: auth ? { Authorization: auth } : {} });
      expect(r.status).toBe(404);
      expect(await r.text()).not.toMatch(/caredian_|process_cpu/);
    }
  });

  test('add-on mode: only through ingress, like the admin API; an admin token does not open it', async () => {
    const m = h.gw.module(MetricsModule)!;
    const app = createAdminApp({ log: createLogger({ level: 'silent', json: true }, new LogSink()), mode: 'addon', adminToken: ADMIN_TOKEN, status: () => ({}), routers: [], rootRoutes: m.adminRootRoutes() });
    const server = await new Promise<ReturnType<express.Express['listen']>>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    try {
      const r = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(r.status).toBe(403);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('GET /metrics: the exposition', () => {
  test('is valid Prometheus text with per-process CPU and memory, and names follow the conventions', async () => {
    const m = await scrape();
    for (const n of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_p99_seconds']) expect([n, has(m, n)]).toEqual([n, true]);
    expect(total(m, 'process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    const ours = [...m.values()].filter((f) => f.name.startsWith('caredian_'));
    expect(ours.length).toBeGreaterThan(15);
    for (const f of ours) {
      expect([f.name, f.help.length > 10]).toEqual([f.name, true]);
      expect([f.name, f.type]).toEqual([f.name, expect.stringMatching(/^(counter|gauge|histogram)$/)]);
      // Counters end in _total, nothing else does; units are base units (seconds, bytes).
      expect([f.name, f.type === 'counter']).toEqual([f.name, f.name.endsWith('_total')]);
      expect(f.name).not.toMatch(/_(ms|milliseconds|kb|mb|minutes)(_|$)/);
      // Histograms name their unit: seconds, or windows (the model's batch size).
      if (f.type === 'histogram') expect(f.name).toMatch(/_(seconds|windows)$/);
    }
  });

  test('DOCS.md documents every caredian_ metric with its type and labels, and nothing that is not exported', async () => {
    const m = await scrape();
    const docs = readFileSync(new URL('../../DOCS.md', import.meta.url), 'utf8');
    const rows = [...docs.matchAll(/^\| `(caredian_[a-z_]+)` \| (counter|gauge|histogram) \|([^|]*)\|/gm)].map(([, name, type, labels]) => ({ name: name!, type: type!, labels: [...labels!.matchAll(/`([a-z_]+)`/g)].map((x) => x[1]!).sort() }));
    const exported = [...m.values()].filter((f) => f.name.startsWith('caredian_'));
    expect(rows.map((r) => r.name).sort()).toEqual(exported.map((f) => f.name).sort());
    for (const f of exported) {
      const row = rows.find((r) => r.name === f.name)!;
      expect([f.name, row.type]).toEqual([f.name, f.type]);
      const seen = [...new Set(f.samples.flatMap((s) => Object.keys(s.labels)).filter((l) => l !== 'le'))].sort();
      // Every label seen is documented (a label only some outcomes carry, such as reason, may be absent).
      expect([f.name, seen.filter((l) => !row.labels.includes(l))]).toEqual([f.name, []]);
    }
  });
});

describe('GET /metrics: the numbers follow what devices send over HTTP', () => {
  test('a fall, a heartbeat and IMU chunks move their counters, the latency histograms, the log and alert gauges', async () => {
    const token = await h.token('events:fall:ingest devices:write events:imu:ingest');
    const before = await scrape();
    const fall = await post('/events/fall', { device_id: 'metrics-1', event: 'fall', prob: 0.9, event_id: randomUUID() }, token);
    expect(fall.status).toBe(200);
    expect((await post('/devices/heartbeat', { device_id: 'metrics-1', battery: 80 }, token)).status).toBe(200);
    const rec = syntheticFall();
    const t0 = Math.floor(Date.now() / 1000) - 120;
    let decided = 0;
    for (let i = 0; i < rec.acc.length; i += 50) {
      const r = await post('/events/imu', { device_id: 'metrics-2', rate_hz: 50, t0: t0 + i / 50, acc: rec.acc.slice(i, i + 50) }, token);
      expect(r.status).toBe(200);
      decided += ((await r.json()) as { falls: unknown[] }).falls.length;
    }
    const chunks = Math.ceil(rec.acc.length / 50);
    expect(decided).toBe(1);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);

    expect(delta('caredian_ingest_requests_total', { input: 'http', kind: 'fall', outcome: 'stored' })).toBe(1);
    expect(delta('caredian_ingest_requests_total', { input: 'http', kind: 'heartbeat', outcome: 'stored' })).toBe(1);
    expect(delta('caredian_ingest_requests_total', { input: 'http', kind: 'imu', outcome: 'stored' })).toBe(chunks);
    expect(delta('caredian_ingest_requests_total')).toBe(chunks + 2);
    expect(delta('caredian_ingest_duration_seconds_count', { input: 'http', kind: 'imu', result: 'accepted' })).toBe(chunks);
    expect(delta('caredian_ingest_duration_seconds_count', { input: 'http', kind: 'fall', result: 'accepted' })).toBe(1);
    expect(delta('caredian_ingest_duration_seconds_sum')).toBeGreaterThan(0);
    // The fall report, the heartbeat and the decided fall: three durable appends.
    expect(delta('caredian_event_log_commit_duration_seconds_count')).toBe(3);
    expect(delta('caredian_event_log_commit_duration_seconds_sum')).toBeGreaterThan(0);
    expect(delta('caredian_imu_falls_decided_total')).toBe(1);
    // A device the devices option does not describe is at placement unknown.
    expect(delta('caredian_model_windows_total', { placement: 'unknown' })).toBeGreaterThan(0);
    expect(delta('caredian_model_windows_total')).toBe(delta('caredian_model_windows_total', { placement: 'unknown' }));
    expect(delta('caredian_model_decisions_total', { placement: 'unknown' })).toBe(1);
    expect(delta('caredian_model_batches_total')).toBeGreaterThan(0);
    expect(total(after, 'caredian_model_streams')).toBeGreaterThanOrEqual(1);
    expect(total(after, 'caredian_model_state_bytes')).toBeGreaterThan(0);
    expect(total(after, 'caredian_event_log_records')).toBeGreaterThanOrEqual(3);
    expect(total(after, 'caredian_event_log_segments')).toBeGreaterThanOrEqual(1);
    expect(total(after, 'caredian_event_log_bytes')).toBeGreaterThan(0);
    expect(total(after, 'caredian_event_log_max_bytes')).toBe(h.config.event_log_max_mb * 1024 * 1024);
    // Both falls opened an alert (no wearer's window in these tests).
    expect(delta('caredian_alerts', { state: 'open' })).toBe(2);
    for (const state of ['pending', 'acknowledged', 'cancelled']) expect(has(after, 'caredian_alerts', { state })).toBe(true);
    expect(has(after, 'caredian_alert_outbox_deliveries')).toBe(true);
  }, 60_000);

  test('refused requests count under their outcome and reason, duplicates as duplicates', async () => {
    const token = await h.token('events:fall:ingest devices:write');
    const hub = await h.token('events:fall:ingest', HUB);
    const before = await scrape();
    const id = randomUUID();
    expect((await post('/events/fall', { device_id: 'metrics-3', event: 'fall', prob: 0.8, event_id: id }, token)).status).toBe(200);
    expect((await post('/events/fall', { device_id: 'metrics-3', event: 'fall', prob: 0.8, event_id: id }, token)).status).toBe(200);
    expect((await post('/events/fall', { device_id: 'metrics-3', event: 'fall', prob: 0.3, event_id: id }, token)).status).toBe(409);
    expect((await post('/events/fall', { event: 'fall', prob: 0.8 }, token)).status).toBe(400);
    expect((await post('/devices/heartbeat', { device_id: 'metrics-3', battery: 'full' }, token)).status).toBe(400);
    expect((await post('/events/fall', { device_id: 'lobby-1', event: 'fall', prob: 0.8 }, hub)).status).toBe(403);
    const after = await scrape();
    const delta = (labels: Record<string, string>) => requests(after, labels) - requests(before, labels);
    expect(delta({ kind: 'fall', outcome: 'stored' })).toBe(1);
    expect(delta({ kind: 'fall', outcome: 'duplicate' })).toBe(1);
    expect(delta({ kind: 'fall', outcome: 'conflict', reason: 'event_id_conflict' })).toBe(1);
    expect(delta({ input: 'http', kind: 'fall', outcome: 'invalid', reason: 'invalid_request' })).toBe(1);
    expect(delta({ input: 'http', kind: 'heartbeat', outcome: 'invalid', reason: 'invalid_request' })).toBe(1);
    expect(delta({ input: 'http', kind: 'fall', outcome: 'forbidden', reason: 'device_not_allowed' })).toBe(1);
    expect(delta({})).toBe(6);
    // Accepted requests carry no reason; refused ones always do.
    for (const s of after.get('caredian_ingest_requests_total')!.samples) expect([s.labels.outcome, 'reason' in s.labels]).toEqual([s.labels.outcome, !['stored', 'duplicate'].includes(s.labels.outcome!)]);
    expect(total(after, 'caredian_ingest_duration_seconds_count', { kind: 'fall', result: 'refused' }) - total(before, 'caredian_ingest_duration_seconds_count', { kind: 'fall', result: 'refused' })).toBe(3);
  });

  test('the InfluxDB writer: backlog and lag go back to 0 once written, points written count, no dead letters', async () => {
    const token = await h.token('devices:write');
    const before = await scrape();
    expect((await post('/devices/heartbeat', { device_id: 'metrics-4' }, token)).status).toBe(200);
    const m = await waitFor(async () => {
      const x = await scrape();
      return total(x, 'caredian_influx_points_written_total') > total(before, 'caredian_influx_points_written_total') && total(x, 'caredian_influx_backlog_records') === 0 ? x : undefined;
    }, 15_000, 'the heartbeat written to InfluxDB');
    expect(total(m, 'caredian_influx_lag_seconds')).toBe(0);
    expect(total(m, 'caredian_influx_dead_letters_total')).toBe(0);
  });
});
