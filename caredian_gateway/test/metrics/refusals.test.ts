// Device requests refused over HTTP before the ingest core (token, scope, media type, size, JSON)
// count in caredian_ingest_requests_total as outcome "refused" with the error code as reason: by
// the single process's fast path, and by each device-port worker that refuses them itself.
import { postEndless } from '../http/raw-http.js';
import { startChildGateway } from '../support/child-gateway.js';
import { ADMIN_TOKEN, startGateway, tempDir } from '../support/harness.js';
import { parseExposition, total, type Family } from './exposition.js';

interface Answer {
  status: number;
  error?: string;
}

async function post(url: string, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const r = await fetch(`${url}${path}`, { method: 'POST', headers, body });
  return { status: r.status, error: ((await r.json()) as { error?: string }).error };
}

const JSON_TYPE = { 'Content-Type': 'application/json' };
const fall = JSON.stringify({ device_id: 'refused-1', event: 'fall', prob: 0.9 });
const beat = JSON.stringify({ device_id: 'refused-1', battery: 50 });

/** Sends one of each refusal the fast path answers itself; returns what each was answered, and the counts expected. */
async function refuseEach(url: string, tokens: { all: string; heartbeatOnly: string }) {
  const bearer = (t: string) => ({ ...JSON_TYPE, Authorization: `Bearer ${t}` });
  const answers = {
    noToken: await post(url, '/events/fall', JSON_TYPE, fall),
    badToken: await post(url, '/devices/heartbeat', bearer('not.a.jwt'), beat),
    basicAuth: await post(url, '/events/fall', { ...JSON_TYPE, Authorization: 'Basic ZXNwMzI6eA==' }, fall),
    scope: await post(url, '/events/fall', bearer(tokens.heartbeatOnly), fall),
    textPlain: await post(url, '/events/imu', { ...bearer(tokens.all), 'Content-Type': 'text/plain' }, '{}'),
    gzip: await post(url, '/events/fall', { ...bearer(tokens.all), 'Content-Encoding': 'gzip' }, fall),
    declaredLarge: await post(url, '/events/fall', bearer(tokens.all), JSON.stringify({ device_id: 'refused-1', event: 'fall', prob: 0.9, pad: 'x'.repeat(20_000) })),
    // Chunked, no Content-Length: only reading finds it too large.
    streamedLarge: await postEndless(Number(new URL(url).port), '/devices/heartbeat', bearer(tokens.all), { maxBytes: 1024 * 1024, waitMs: 10_000 }).then((r) => ({ status: r.status, error: r.body.error })),
    badJson: await post(url, '/devices/heartbeat', bearer(tokens.all), '{"device_id":'),
    emptyBody: await post(url, '/events/imu', bearer(tokens.all), ''),
  };
  const expected: [labels: Record<string, string>, n: number][] = [
    [{ kind: 'fall', reason: 'unauthorized' }, 1],
    [{ kind: 'heartbeat', reason: 'invalid_token' }, 1],
    [{ kind: 'fall', reason: 'invalid_request' }, 1],
    [{ kind: 'fall', reason: 'insufficient_scope' }, 1],
    [{ kind: 'imu', reason: 'unsupported_media_type' }, 1],
    [{ kind: 'fall', reason: 'unsupported_media_type' }, 1],
    [{ kind: 'fall', reason: 'payload_too_large' }, 1],
    [{ kind: 'heartbeat', reason: 'payload_too_large' }, 1],
    [{ kind: 'heartbeat', reason: 'invalid_request' }, 1],
    [{ kind: 'imu', reason: 'invalid_request' }, 1],
  ];
  return { answers, expected };
}

const statuses = (a: Record<string, Answer>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, [v.status, v.error]]));
const ANSWERED = {
  noToken: [401, 'unauthorized'],
  badToken: [401, 'invalid_token'],
  basicAuth: [400, 'invalid_request'],
  scope: [403, 'insufficient_scope'],
  textPlain: [415, 'unsupported_media_type'],
  gzip: [415, 'unsupported_media_type'],
  declaredLarge: [413, 'payload_too_large'],
  streamedLarge: [413, 'payload_too_large'],
  badJson: [400, 'invalid_request'],
  emptyBody: [400, 'invalid_request'],
};

async function scrape(adminUrl: string): Promise<Map<string, Family>> {
  const r = await fetch(`${adminUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return parseExposition(await r.text());
}
const refused = (m: Map<string, Family>, labels: Record<string, string> = {}) => total(m, 'caredian_ingest_requests_total', { input: 'http', outcome: 'refused', ...labels });

describe('one process (no workers): the fast path counts its refusals', () => {
  test('each refusal once, by kind and error code; accepted and core-refused requests as before', async () => {
    const h = await startGateway();
    try {
      const tokens = { all: await h.token('events:fall:ingest devices:write events:imu:ingest'), heartbeatOnly: await h.token('devices:write') };
      const before = await scrape(h.adminUrl);
      const { answers, expected } = await refuseEach(h.url, tokens);
      expect(statuses(answers)).toEqual(ANSWERED);
      // Past the fast path: stored, and refused by the core (outcome invalid, not "refused").
      expect((await post(h.url, '/events/fall', { ...JSON_TYPE, Authorization: `Bearer ${tokens.all}` }, fall)).status).toBe(200);
      expect((await post(h.url, '/devices/heartbeat', { ...JSON_TYPE, Authorization: `Bearer ${tokens.all}` }, JSON.stringify({ device_id: 'refused-1', battery: 'full' }))).status).toBe(400);
      // A browser request (Origin: Express with CORS) refused before the core is not counted.
      expect((await post(h.url, '/events/fall', { ...JSON_TYPE, Origin: 'http://elsewhere.example' }, fall)).status).toBe(401);
      const after = await scrape(h.adminUrl);
      const delta = (labels: Record<string, string>) => refused(after, labels) - refused(before, labels);
      for (const [labels, n] of expected) expect([labels, delta(labels)]).toEqual([labels, n]);
      expect(delta({})).toBe(expected.length);
      const all = (m: Map<string, Family>, labels: Record<string, string>) => total(m, 'caredian_ingest_requests_total', labels);
      expect(all(after, { outcome: 'stored' }) - all(before, { outcome: 'stored' })).toBe(1);
      expect(all(after, { kind: 'heartbeat', outcome: 'invalid', reason: 'invalid_request' }) - all(before, { kind: 'heartbeat', outcome: 'invalid', reason: 'invalid_request' })).toBe(1);
      expect(all(after, {}) - all(before, {})).toBe(expected.length + 2);
      // Refusals are counted, not timed: the latency histogram saw only the two the core answered.
      expect(total(after, 'caredian_ingest_duration_seconds_count') - total(before, 'caredian_ingest_duration_seconds_count')).toBe(2);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('device-port workers (INGEST_WORKERS=2): each worker counts what it refuses', () => {
  test('one scrape shows every refusal, under the worker that answered it; the owner has none', async () => {
    const gw = await startChildGateway({ INGEST_WORKERS: '2', DATA_DIR: tempDir('caredian-refusals-') });
    try {
      const tokens = { all: await gw.token('events:fall:ingest devices:write events:imu:ingest'), heartbeatOnly: await gw.token('devices:write') };
      const before = await scrape(gw.adminUrl);
      const { answers, expected } = await refuseEach(gw.url, tokens);
      expect(statuses(answers)).toEqual(ANSWERED);
      expect((await post(gw.url, '/events/fall', { ...JSON_TYPE, Authorization: `Bearer ${tokens.all}` }, fall)).status).toBe(200);
      const after = await scrape(gw.adminUrl);
      const delta = (labels: Record<string, string>) => refused(after, labels) - refused(before, labels);
      for (const [labels, n] of expected) expect([labels, delta(labels)]).toEqual([labels, n]);
      expect(delta({})).toBe(expected.length);
      const processes = new Set(after.get('caredian_ingest_requests_total')!.samples.filter((s) => s.labels.outcome === 'refused').map((s) => s.labels.process));
      expect([...processes].every((p) => p === 'worker-1' || p === 'worker-2')).toBe(true);
      expect(refused(after, { process: 'primary' })).toBe(0);
      // What the workers pass on is counted once, by the owner's ingest core.
      expect(total(after, 'caredian_ingest_requests_total', { outcome: 'stored', process: 'primary' }) - total(before, 'caredian_ingest_requests_total', { outcome: 'stored', process: 'primary' })).toBe(1);
      expect(total(after, 'caredian_ingest_requests_total', { outcome: 'stored' }) - total(before, 'caredian_ingest_requests_total', { outcome: 'stored' })).toBe(1);
    } finally {
      await gw.kill('SIGTERM');
    }
  }, 60_000);
});
