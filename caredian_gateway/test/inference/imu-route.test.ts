import { startGateway, type Harness, ADMIN_TOKEN } from '../support/harness.js';
import { sisfallTrial } from '../support/sisfall.js';

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startGateway({ LOCATION_DEFAULT: 'hallway' });
  token = await h.token('events:imu:ingest events:fall:ingest');
});
afterAll(() => h.close());

type ImuReply = { ok: boolean; accepted: number; falls: { id: string; ts: number; prob: number; source: string }[]; error?: string; error_description?: string };
const post = async (body: unknown, headers: Record<string, string> = {}, path = '/events/imu') => {
  const r = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as ImuReply };
};
const events = async (device: string) => ((await (await fetch(`${h.adminUrl}/api/events?limit=100&device_id=${device}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { events: { event_id: string; source: string; decided: boolean; event: string; location: string }[] }).events;

/** Streams a trial in 1 s chunks (t0 on the sample timeline); returns every fall the responses listed. */
async function stream(device: string, name: string, t0 = 1_760_000_000, extra: Record<string, unknown> = {}) {
  const t = sisfallTrial(name);
  const falls: ImuReply['falls'] = [];
  for (let i = 0; i < t.acc.length; i += 50) {
    const r = await post({ device_id: device, rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50), ...extra });
    expect(r.status).toBe(200);
    falls.push(...r.body.falls);
  }
  return falls;
}

test('a real fall streamed in 1 s chunks is decided once, stored durably with source "model", and answered with its id', async () => {
  const falls = await stream('wrist-a', 'F01_SA10_R01');
  expect(falls).toEqual([{ id: expect.any(String), ts: expect.any(Number), prob: expect.any(Number), source: 'model', alert: { id: falls[0]!.id, state: 'open' } }]);
  const stored = (await events('wrist-a')).find((e) => e.event_id === falls[0]!.id);
  expect(stored).toMatchObject({ event: 'fall', source: 'model', decided: true, location: 'hallway' });
  expect(await stream('wrist-b', 'D05_SA10_R01')).toEqual([]);
}, 60_000);

test('a retried chunk is not fed twice; a chunk without t0 continues the previous one', async () => {
  const acc = Array.from({ length: 50 }, () => [0, -1, 0]);
  expect((await post({ device_id: 'retry', rate_hz: 50, t0: 1_760_000_100, acc })).body.accepted).toBe(50);
  expect((await post({ device_id: 'retry', rate_hz: 50, t0: 1_760_000_100, acc })).body.accepted).toBe(0);
  expect((await post({ device_id: 'retry', rate_hz: 50, t0: 1_760_000_100.5, acc })).body.accepted).toBe(25);
  expect((await post({ device_id: 'retry', rate_hz: 50, acc })).body).toEqual({ ok: true, accepted: 50, falls: [] });
});

test('sensor_and_model: a device report plus the model within the window make one fall with source "both"', async () => {
  const g = await startGateway({ FALL_DECISION_MODE: 'sensor_and_model', FALL_AND_WINDOW_SEC: '10' });
  try {
    const tok = await g.token('events:imu:ingest events:fall:ingest');
    const t0 = 1_760_001_000;
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'pair', event: 'fall', prob: 0.9, ts: t0 + 7 }) });
    const sensor = (await r.json()) as { event_id: string };
    const t = sisfallTrial('F03_SA10_R02');
    const falls: ImuReply['falls'] = [];
    for (let i = 0; i < t.acc.length; i += 50) {
      const x = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'pair', rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50) }) });
      falls.push(...((await x.json()) as ImuReply).falls);
    }
    expect(falls.map((f) => f.source)).toEqual(['both']);
    const stored = [...g.gw.store.scan()].filter((e) => e.kind === 'fall' && e.device_id === 'pair');
    expect(stored.map((e) => e.kind === 'fall' && [e.event_id === sensor.event_id ? 'sensor-report' : 'decision', e.source, e.decided])).toEqual([['sensor-report', 'sensor', false], ['decision', 'both', true]]);
  } finally {
    await g.close();
  }
}, 60_000);

test('model_only: a device report is stored but not decided', async () => {
  const g = await startGateway({ FALL_DECISION_MODE: 'model_only' });
  try {
    const tok = await g.token('events:fall:ingest');
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'm', event: 'fall', prob: 0.99 }) });
    const stored = [...g.gw.store.scan()].filter((e) => e.kind === 'fall');
    expect(stored.map((e) => e.kind === 'fall' && [e.source, e.decided])).toEqual([['sensor', false]]);
  } finally {
    await g.close();
  }
});

test('FALL_INFERENCE_ENABLED=false: /events/imu answers 503 with the reason, device reports still decide (sensor_only)', async () => {
  const g = await startGateway({ FALL_INFERENCE_ENABLED: 'false', FALL_DECISION_MODE: 'sensor_and_model' });
  try {
    const tok = await g.token('events:imu:ingest events:fall:ingest');
    const r = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'off', rate_hz: 50, acc: [[0, 1, 0]] }) });
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({ ok: false, error: 'inference_unavailable', error_description: expect.stringMatching(/disabled/) });
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'off', event: 'fall', prob: 0.9 }) });
    const stored = [...g.gw.store.scan()].filter((e) => e.kind === 'fall');
    expect(stored.map((e) => e.kind === 'fall' && [e.source, e.decided])).toEqual([['sensor', true]]);
    const ready = (await (await fetch(`${g.url}/ready`)).json()) as { checks: Record<string, { detail: string; mode: string }> };
    expect(ready.checks.model).toMatchObject({ detail: 'disabled', mode: 'sensor_only' });
  } finally {
    await g.close();
  }
});

describe.each([
  ['fast path', {}],
  ['Express (request with Origin)', { Origin: 'http://browser.example' }],
])('POST /events/imu rejects bad input, feeds nothing and keeps serving (%s)', (_via, via: Record<string, string>) => {
  const ok = { device_id: `bad-input-${Object.keys(via).length}`, rate_hz: 50, t0: 1_760_000_500, acc: [[0, -1, 0], [0, -1, 0]], gyro: [[1, 2, 3], [1, 2, 3]] };
  const cases: [string, unknown, number, RegExp][] = [
    ['malformed JSON', '{"device_id": "x", ', 400, /JSON/],
    ['NaN (not JSON)', '{"device_id":"x","rate_hz":50,"acc":[[NaN,0,0]]}', 400, /JSON/],
    ['a JSON array', '[1,2]', 400, /body/],
    ['missing acc', { ...ok, acc: undefined, gyro: undefined }, 400, /acc/],
    ['empty acc', { ...ok, acc: [], gyro: undefined }, 400, /acc/],
    ['acc not an array', { ...ok, acc: 'fast', gyro: undefined }, 400, /acc/],
    ['a sample of two values', { ...ok, acc: [[0, 1], [0, 1, 0]] }, 400, /acc\.0: must be \[x, y, z\]/],
    ['a string value', { ...ok, acc: [[0, '1', 0], [0, 1, 0]] }, 400, /acc\.0: values must be finite/],
    ['null value', { ...ok, acc: [[0, null, 0], [0, 1, 0]] }, 400, /acc\.0: values must be finite/],
    ['huge number (1e400 is Infinity)', '{"device_id":"x","rate_hz":50,"acc":[[1e400,0,0]]}', 400, /finite/],
    ['acceleration over 64 g', { ...ok, acc: [[0, 70, 0], [0, 1, 0]] }, 400, /acc\.0: magnitude 70\.0 g/],
    ['rotation over 5000 deg/s', { ...ok, gyro: [[0, 0, 6000], [0, 0, 0]] }, 400, /gyro\.0: magnitude/],
    ['gyro and acc of different lengths', { ...ok, gyro: [[0, 0, 0]] }, 400, /gyro: has 1 samples, acc has 2/],
    ['rate_hz below 10', { ...ok, rate_hz: 5 }, 400, /rate_hz/],
    ['rate_hz above 400', { ...ok, rate_hz: 1000 }, 400, /rate_hz/],
    ['rate_hz as a string', { ...ok, rate_hz: '50' }, 400, /rate_hz/],
    ['more than 10 s', { ...ok, rate_hz: 10, acc: Array(101).fill([0, 1, 0]), gyro: undefined }, 400, /more than 10 s/],
    ['t0 in milliseconds', { ...ok, t0: 1_760_000_500_000 }, 400, /milliseconds/],
    ['t0 as a string', { ...ok, t0: 'now' }, 400, /t0/],
    ['device_id with a newline', { ...ok, device_id: 'a\nb' }, 400, /device_id/],
    ['location with a quote', { ...ok, location: 'x"y' }, 400, /location/],
  ];
  test.each(cases)('%s', async (_name, body, status, reason) => {
    const streamsBefore = h.gw.store.lastCommittedSeq;
    const r = await post(body, via);
    expect(r.status).toBe(status);
    expect(r.body.ok).toBe(false);
    expect(`${r.body.error} ${r.body.error_description}`).toMatch(reason);
    expect(h.gw.store.lastCommittedSeq).toBe(streamsBefore);
    // Nothing was fed: the device's first valid chunk is accepted in full.
    expect((await post(ok, via)).body.accepted).toBe(2);
    await post({ ...ok, t0: ok.t0 + 100 }, via); // move on, so the next case starts from a clean gap
    ok.t0 += 200;
  });

  test('an oversized body is refused with 413', async () => {
    const r = await post({ ...ok, acc: Array(60_000).fill([0.123456789, -1.123456789, 0.123456789]) }, via);
    expect(r.status).toBe(413);
  });

  test('missing, forged and wrong-scope tokens are refused', async () => {
    expect((await fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...via }, body: JSON.stringify(ok) })).status).toBe(401);
    const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    expect((await post(ok, { ...via, Authorization: `Bearer ${forged}` })).status).toBe(401);
    const fallOnly = await h.token('events:fall:ingest');
    expect((await post(ok, { ...via, Authorization: `Bearer ${fallOnly}` })).status).toBe(403);
  });
});

test('a decided fall that cannot be stored is answered 503 and stored with the retried chunk, not lost', async () => {
  const t = sisfallTrial('F08_SA05_R03');
  const t0 = 1_760_002_000;
  const store = h.gw.store;
  const real = store.ingestMany.bind(store);
  let failures = 0;
  store.ingestMany = async (items) => {
    if (items.some((x) => x.rec.device_id === 'flaky-disk')) {
      failures++;
      throw new Error('disk unavailable (simulated)');
    }
    return real(items);
  };
  let failedAt = -1;
  try {
    for (let i = 0; i < t.acc.length && failedAt < 0; i += 50) {
      const r = await post({ device_id: 'flaky-disk', rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50) });
      if (r.status === 503) {
        expect(r.body).toMatchObject({ ok: false, error: 'storage_unavailable' });
        failedAt = i;
      } else expect(r.body.falls).toEqual([]);
    }
  } finally {
    store.ingestMany = real;
  }
  expect(failures).toBe(1);
  // The device retries the same chunk: its samples are not fed again, and the owed fall is stored now.
  const retry = await post({ device_id: 'flaky-disk', rate_hz: 50, t0: t0 + failedAt / 50, acc: t.acc.slice(failedAt, failedAt + 50) });
  expect(retry.status).toBe(200);
  expect(retry.body.accepted).toBe(0);
  expect(retry.body.falls).toEqual([expect.objectContaining({ source: 'model' })]);
  expect((await events('flaky-disk')).map((e) => e.event_id)).toEqual([retry.body.falls[0]!.id]);
}, 60_000);

test('a model file that does not match its metadata is not used: /ready says why, device reports still decide', async () => {
  const { copyFileSync, readFileSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tempDir } = await import('../support/harness.js');
  const { DEFAULT_MODEL_PATH } = await import('../../src/inference/inference-module.js');
  const dir = tempDir();
  copyFileSync(DEFAULT_MODEL_PATH, join(dir, 'm.onnx'));
  const meta = JSON.parse(readFileSync(DEFAULT_MODEL_PATH.replace(/\.onnx$/, '.meta.json'), 'utf8'));
  writeFileSync(join(dir, 'm.meta.json'), JSON.stringify({ ...meta, sha256: '0'.repeat(64) }));
  const g = await startGateway({ FALL_MODEL_PATH: join(dir, 'm.onnx'), FALL_DECISION_MODE: 'model_only' });
  try {
    const ready = await fetch(`${g.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, unknown> }).checks.model).toMatchObject({ ready: false, detail: expect.stringMatching(/does not match the sha256/), mode: 'sensor_only' });
    const tok = await g.token('events:imu:ingest events:fall:ingest');
    const r = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'x', rate_hz: 50, acc: [[0, 1, 0]] }) });
    expect(r.status).toBe(503);
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'x', event: 'fall', prob: 0.9 }) });
    expect([...g.gw.store.scan()].map((e) => e.kind === 'fall' && e.decided)).toEqual([true]);
  } finally {
    await g.close();
  }
});
