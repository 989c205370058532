// What a retried or reused event_id does, and how the cooldown treats people: a retry never starts
// or extends a cooldown, a fall after an acknowledged alert alerts again, and the same event_id
// with a different body is a 409 conflict instead of a silent drop.
import { rmSync } from 'node:fs';
import { ADMIN_TOKEN, startGateway, tempDir, type Harness } from '../support/harness.js';

const send = async (h: Harness, token: string, body: unknown) => {
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const admin = async <T>(h: Harness, path: string, method = 'GET') => (await (await fetch(`${h.adminUrl}${path}`, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as T;
const decided = async (h: Harness, device: string) =>
  (await admin<{ events: { event_id: string; decided: boolean }[] }>(h, `/api/events?limit=100&device_id=${device}`)).events.map((e) => [e.event_id, e.decided]).sort();
const openAlerts = async (h: Harness, device: string) => (await admin<{ falls: { id: string; device_id: string; state: string }[] }>(h, '/api/falls')).falls.filter((f) => f.device_id === device && f.state === 'open').map((f) => f.id);
const now = () => Date.now() / 1000;

describe('cooldown (FALL_COOLDOWN_SEC=300)', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startGateway({ FALL_COOLDOWN_SEC: '300' });
    token = await h.token();
  });
  afterAll(() => h.close());

  test('a retry of a stored fall neither starts nor extends a cooldown', async () => {
    // Decided 400 s ago: its cooldown is over.
    expect((await send(h, token, { device_id: 'retrier', event: 'fall', prob: 0.9, ts: now() - 400, event_id: 'r-1' })).status).toBe(200);
    // The device did not get the answer and retries (without ts: the gateway filled it in the first time).
    expect(await send(h, token, { device_id: 'retrier', event: 'fall', prob: 0.9, event_id: 'r-1' })).toMatchObject({ status: 200, body: { written: 0, duplicate: true, event_id: 'r-1' } });
    // A new fall now is a new emergency, not a repeat inside a cooldown the retry started.
    expect((await send(h, token, { device_id: 'retrier', event: 'fall', prob: 0.95, event_id: 'r-2' })).status).toBe(200);
    expect(await decided(h, 'retrier')).toEqual([['r-1', true], ['r-2', true]]);
  });

  test('a new fall after the alert was acknowledged alerts again, even inside the cooldown', async () => {
    expect((await send(h, token, { device_id: 'grandma', event: 'fall', prob: 0.9, event_id: 'g-1' })).status).toBe(200);
    expect(await openAlerts(h, 'grandma')).toEqual(['g-1']);
    // Before help came, a second report is a repeat of the same emergency.
    expect((await send(h, token, { device_id: 'grandma', event: 'fall', prob: 0.8, event_id: 'g-2' })).status).toBe(200);
    expect((await admin<{ ok: boolean }>(h, '/api/falls/g-1/ack', 'POST')).ok).toBe(true);
    expect((await send(h, token, { device_id: 'grandma', event: 'fall', prob: 0.97, event_id: 'g-3' })).status).toBe(200);
    expect(await decided(h, 'grandma')).toEqual([['g-1', true], ['g-2', false], ['g-3', true]]);
    expect(await openAlerts(h, 'grandma')).toEqual(['g-3']);
  });
});

describe('a reused event_id', () => {
  const dataDir = tempDir();
  let h: Harness;
  let token: string;
  const first = { device_id: 'band-9', location: 'bath', event: 'fall', prob: 0.99, ts: 1_790_000_000.25, event_id: 'boot4-0001' };
  beforeAll(async () => {
    h = await startGateway({}, { dataDir, keepData: true });
    token = await h.token();
    expect((await send(h, token, first)).status).toBe(200);
  });
  afterAll(async () => {
    await h.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('with a different body: 409 event_id_conflict naming the stored id and what differs; identical retries 200 duplicate; nothing stored', async () => {
    const before = h.gw.store.lastCommittedSeq;
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ prob: 0.05 }, /\(prob differ\)/],
      [{ event: 'sit' }, /\(event differ\)/],
      [{ location: 'kitchen' }, /\(location differ\)/],
      [{ ts: first.ts + 60 }, /\(ts differ\)/],
      [{ prob: 0.1, ts: first.ts + 1 }, /\(prob, ts differ\)/],
    ];
    for (const [change, why] of cases) {
      const r = await send(h, token, { ...first, ...change });
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ ok: false, error: 'event_id_conflict', event_id: 'boot4-0001', error_description: expect.stringMatching(why) });
    }
    // An identical retry, or one leaving out location and ts (the gateway filled them in), stays 200 duplicate.
    const { location: _l, ts: _t, ...bare } = first;
    for (const body of [first, { ...first, ts: first.ts + 0.0001 }, bare]) expect(await send(h, token, body)).toMatchObject({ status: 200, body: { ok: true, written: 0, duplicate: true, event_id: 'boot4-0001' } });
    expect(h.gw.store.lastCommittedSeq).toBe(before);
  });

  test('the same holds after a restart (read back from the log)', async () => {
    await h.close();
    h = await startGateway({}, { dataDir, keepData: true });
    token = await h.token();
    expect((await send(h, token, { ...first, prob: 0.05 })).status).toBe(409);
    expect((await send(h, token, first)).body).toMatchObject({ duplicate: true });
  });
});
