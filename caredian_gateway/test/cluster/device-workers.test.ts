// Multi-process ingest: device-port workers do HTTP and the token check, the owner of the event
// log stores and acknowledges. Kill -9 of any process loses no acknowledged event; the relay
// keeps every per-address limit on the device's own address.
import { startChildGateway, adminStatus, type ChildGateway } from '../support/child-gateway.js';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, influxUrl, tempDir, waitFor } from '../support/harness.js';
import { storedEventIds, uniqueDb } from '../support/influx-query.js';
import { send, statusCounts, tokenFrom } from '../auth/loopback.js';
import { RecordingUpstream } from '../proxy/recording-upstream.js';
import { fallLoad } from '../support/fall-load.js';

const workerPids = async (gw: ChildGateway) => ((await adminStatus(gw.adminUrl)).checks.device_workers as { pids: number[] }).pids;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function allStoredOnce(gw: ChildGateway, db: string, acked: string[]) {
  await waitFor(async () => {
    const s = await adminStatus(gw.adminUrl);
    return s.checks.influxdb!.backlog === 0 && s.checks.influxdb!.cursor === s.storage.last_seq;
  }, 30_000, 'the writer to catch up');
  const stored = await storedEventIds(db);
  expect(acked.filter((id) => !stored.has(id))).toEqual([]);
  expect([...stored].filter(([, n]) => n !== 1)).toEqual([]);
}

test('SIGKILL of a device-port worker under load: every acknowledged event stored once, a new worker takes its place', async () => {
  const db = uniqueDb('workerkill');
  const gw = await startChildGateway({ INGEST_WORKERS: '2', INFLUX_URL: influxUrl(), INFLUX_DB: db, DATA_DIR: tempDir('caredian-workers-') });
  try {
    const pids = await workerPids(gw);
    expect(pids).toHaveLength(2);
    const token = await gw.token('events:fall:ingest');
    const l = fallLoad(gw.url, token, 'wk', 16, { retry: true });
    await waitFor(() => l.acked.length >= 400, 30_000, 'acknowledged events');
    process.kill(pids[0]!, 'SIGKILL');
    const before = l.acked.length;
    await waitFor(async () => {
      const now = await workerPids(gw);
      return now.length === 2 && !now.includes(pids[0]!);
    }, 20_000, 'a replacement worker');
    await waitFor(() => l.acked.length >= before + 400, 30_000, 'acknowledgements after the kill');
    await l.stop();
    const s = await adminStatus(gw.adminUrl);
    expect(s.checks.device_workers).toMatchObject({ workers: 2, restarts: 1 });
    await allStoredOnce(gw, db, l.acked);
  } finally {
    await gw.kill('SIGTERM');
  }
}, 120_000);

test('SIGKILL of the event log owner under load: its workers exit, and after a restart every acknowledged event is stored once', async () => {
  const db = uniqueDb('ownerkill');
  const env = { INGEST_WORKERS: '2', INFLUX_URL: influxUrl(), INFLUX_DB: db, DATA_DIR: tempDir('caredian-owner-') };
  const gw = await startChildGateway(env);
  const pids = await workerPids(gw);
  const token = await gw.token('events:fall:ingest');
  const l = fallLoad(gw.url, token, 'ow', 16, { retry: true });
  await waitFor(() => l.acked.length >= 600, 30_000, 'acknowledged events');
  await gw.kill('SIGKILL');
  await waitFor(() => pids.every((p) => !alive(p)), 10_000, 'the orphaned workers to exit');
  await l.stop();
  const again = await startChildGateway(env, gw.ports);
  try {
    await allStoredOnce(again, db, l.acked);
    expect(l.acked.length).toBeGreaterThanOrEqual(600);
  } finally {
    await again.kill('SIGTERM');
  }
}, 120_000);

test('relayed requests keep the device address: lockout per source address holds, a forged relay header changes nothing', async () => {
  const gw = await startChildGateway({ INGEST_WORKERS: '2', DATA_DIR: tempDir('caredian-relay-') });
  try {
    // Wrong secrets from .2 claiming, in the relay's own header, to come from .3.
    const forged = { 'x-caredian-relay-peer': '127.0.0.3' };
    const guesses = [];
    for (let i = 0; i < 12; i++) guesses.push(await send(gw.url, '/auth/cc/token', { from: '127.0.0.2', body: 'grant_type=client_credentials', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:wrong-guess-${i}`).toString('base64')}`, ...forged } }));
    expect(statusCounts(guesses)).toEqual({ 401: 10, 429: 2 });
    expect((await tokenFrom(gw.url, '127.0.0.2', CLIENT_ID, CLIENT_SECRET)).status).toBe(429);
    const device = await tokenFrom(gw.url, '127.0.0.3', CLIENT_ID, CLIENT_SECRET);
    expect(device.status).toBe(200);
    // Served by a worker (fast path) and relayed (Express) alike: the same answers.
    const tok = (JSON.parse(device.body) as { access_token: string }).access_token;
    const fall = await send(gw.url, '/events/fall', { from: '127.0.0.3', body: JSON.stringify({ device_id: 'd1', event: 'fall', prob: 0.9 }), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` } });
    expect(fall.status).toBe(200);
    const viaExpress = await send(gw.url, '/events/fall', { from: '127.0.0.3', body: JSON.stringify({ device_id: 'd1', event: 'fall', prob: 0.9 }), headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}`, Origin: 'http://elsewhere.example' } });
    expect(viaExpress.status).toBe(200);
    const bad = await send(gw.url, '/events/fall', { from: '127.0.0.3', body: '{"device_id":', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` } });
    expect([bad.status, JSON.parse(bad.body).error]).toEqual([400, 'invalid_request']);
    const big = await send(gw.url, '/auth/cc/token', { from: '127.0.0.3', body: 'x'.repeat(64 * 1024), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(big.status).toBe(413);
    expect((await send(gw.url, '/ready', { from: '127.0.0.3', method: 'GET' })).status).toBe(200);
    expect((await send(gw.url, '/no-such-route', { from: '127.0.0.3', method: 'GET' })).status).toBe(404);
    // One scrape, every process: the owner's ingest counters and each worker's CPU and memory.
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).text();
    const cpuOf = (p: string) => new RegExp(`^process_cpu_seconds_total\\{[^}]*process="${p}"[^}]*\\} [0-9.e+-]+$`, 'm').test(metrics);
    expect(['primary', 'worker-1', 'worker-2'].map(cpuOf)).toEqual([true, true, true]);
    expect(metrics).toMatch(/^caredian_ingest_requests_total\{[^}]*kind="fall"[^}]*outcome="stored"[^}]*\} [1-9]/m);
  } finally {
    await gw.kill('SIGTERM');
  }
}, 60_000);

test('the AI proxy through a worker: the upstream sees the device address, no relay or hop-by-hop header, the whole body; escapes still 400', async () => {
  const up = new RecordingUpstream();
  await up.start();
  const KEY = 'relay-proxy-key-0123456789ab';
  const gw = await startChildGateway({ INGEST_WORKERS: '2', DATA_DIR: tempDir('caredian-relay-proxy-'), API_KEYS_JSON: JSON.stringify({ tester: KEY }), PROXY_UPSTREAMS_JSON: JSON.stringify({ open: { url: `${up.url}/open`, require_signature: false } }) });
  try {
    const body = JSON.stringify({ text: 'x'.repeat(20_000) });
    const r = await send(gw.url, '/proxy/open/v1/analyze', { from: '127.0.0.3', body, headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', Connection: 'keep-alive, X-Secret-Hop', 'X-Secret-Hop': 'no', 'X-End-To-End': 'kept', 'x-caredian-relay-peer': '10.9.9.9' } });
    expect(r.status).toBe(200);
    const seen = up.received.at(-1)!;
    expect(seen.url).toBe('/open/v1/analyze');
    expect(seen.body.toString()).toBe(body);
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.3');
    expect(seen.headers['x-end-to-end']).toBe('kept');
    expect(seen.headers['x-secret-hop']).toBeUndefined();
    expect(Object.keys(seen.headers).filter((k) => k.startsWith('x-caredian-relay'))).toEqual([]);
    const escape = await send(gw.url, '/proxy/open/.%2e/secret', { from: '127.0.0.3', method: 'GET', headers: { Authorization: `Bearer ${KEY}` } });
    expect(escape.status).toBe(400);
    expect(up.received.some((s) => s.url.startsWith('/secret'))).toBe(false);
  } finally {
    await gw.kill('SIGTERM');
    await up.stop();
  }
}, 60_000);
