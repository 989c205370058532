// Replay protection survives a restart: the one-time ids of accepted signed requests are on disk
// (DATA_DIR/proxy-replay.log, 0600) before the request is forwarded, and are read back on start.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, tempDir, type Harness } from '../support/harness.js';
import { signRequest } from '../support/sign.js';
import { RecordingUpstream } from './recording-upstream.js';

const KEY = 'replay-test-key-0123456789ab';
const env = (upUrl: string) => ({
  API_KEYS_JSON: JSON.stringify({ tester: KEY }),
  PROXY_UPSTREAMS_JSON: JSON.stringify({ analyze: { url: `${upUrl}/analyze` } }),
});
let up: RecordingUpstream;
let dataDir: string;
let h: Harness | undefined;

beforeAll(async () => {
  up = new RecordingUpstream();
  await up.start();
  dataDir = tempDir();
});
afterAll(async () => {
  await h?.close();
  await up.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const post = (base: string, token: string, body: string) =>
  fetch(`${base}/proxy/analyze`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}`, 'X-Auth-Token': token, 'Content-Type': 'application/json' }, body });

test('a signed request replayed after a restart is refused like one replayed before it', async () => {
  const log = join(dataDir, 'proxy-replay.log');
  h = await startGateway(env(up.url), { dataDir, keepData: true });
  const body = '{"text":"once only"}';
  const token = await signRequest(KEY, 'POST', '/proxy/analyze', body);

  // The id is in the file by the time the upstream sees the request (written before forwarding).
  let logLinesWhenForwarded = -1;
  up.onRequest = () => (logLinesWhenForwarded = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0);
  const first = await post(h.url, token, body);
  up.onRequest = undefined;
  expect(first.status).toBe(200);

  const before = await post(h.url, token, body);
  expect([before.status, ((await before.json()) as { error: string }).error]).toEqual([401, 'replayed']);
  await h.close();
  h = undefined;

  // While it is down: an expired entry and a line torn by a crash mid-write, both to be dropped on start.
  if (existsSync(log)) appendFileSync(log, `${Math.floor(Date.now() / 1000) - 1} EXPIREDxxxxxxxxxxxxxxx\n17`);

  const received = up.received.length;
  h = await startGateway(env(up.url), { dataDir, keepData: true });
  const after = await post(h.url, token, body);
  expect([after.status, ((await after.json()) as { error: string }).error]).toEqual([401, 'replayed']);
  expect(up.received.length).toBe(received);
  expect(logLinesWhenForwarded).toBe(1);

  // Compacted on start: only the live id is left, still 0600.
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^\d+ [A-Za-z0-9_-]{22}$/);
  expect(statSync(log).mode & 0o777).toBe(0o600);

  // Normal signed proxying still works after the restart, and each new id is recorded.
  const fresh = await signRequest(KEY, 'POST', '/proxy/analyze', body);
  expect((await post(h.url, fresh, body)).status).toBe(200);
  expect(up.received.length).toBe(received + 1);
  expect(readFileSync(log, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
});

test('concurrent uses of one token: exactly one is forwarded', async () => {
  h ??= await startGateway(env(up.url), { dataDir, keepData: true });
  const body = '{"text":"race"}';
  const token = await signRequest(KEY, 'POST', '/proxy/analyze', body);
  const received = up.received.length;
  const statuses = await Promise.all(Array.from({ length: 8 }, () => post(h!.url, token, body).then((r) => r.status)));
  expect(statuses.sort()).toEqual([200, 401, 401, 401, 401, 401, 401, 401]);
  expect(up.received.length).toBe(received + 1);
  expect(existsSync(join(dataDir, 'proxy-replay.log'))).toBe(true);
});

test('without a usable replay log the gateway keeps running, refuses signed requests (503) and says why on /ready', async () => {
  await h?.close();
  h = undefined;
  const broken = tempDir();
  mkdirSync(join(broken, 'proxy-replay.log'));
  const g = await startGateway(
    { API_KEYS_JSON: JSON.stringify({ tester: KEY }), PROXY_UPSTREAMS_JSON: JSON.stringify({ analyze: { url: `${up.url}/analyze` }, open: { url: `${up.url}/open`, require_signature: false } }) },
    { dataDir: broken },
  );
  try {
    const received = up.received.length;
    const body = '{"text":"x"}';
    const r = await post(g.url, await signRequest(KEY, 'POST', '/proxy/analyze', body), body);
    expect([r.status, ((await r.json()) as { error: string }).error]).toEqual([503, 'replay_store_unavailable']);
    expect(up.received.length).toBe(received);
    const open = await fetch(`${g.url}/proxy/open`, { method: 'POST', headers: { Authorization: `Bearer ${KEY}` }, body });
    expect(open.status).toBe(200);
    const ready = (await (await fetch(`${g.url}/ready`)).json()) as { status: string; warnings: string[] };
    expect(ready.status).toBe('degraded');
    expect(ready.warnings).toContainEqual(expect.stringMatching(/^proxy: signed proxy requests are refused/));
  } finally {
    await g.close();
  }
});
