// Device times ahead of the gateway's clock: refused past max_future_skew_sec (400 with the
// reason), and a device's clock can never extend its cooldown.
import { ADMIN_TOKEN, startGateway, type Harness } from '../support/harness.js';

const send = async (h: Harness, token: string, path: string, body: unknown) => {
  const r = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as { error?: string; error_description?: string; accepted?: number } };
};
const decided = async (h: Harness, device: string) =>
  ((await (await fetch(`${h.adminUrl}/api/events?limit=100&device_id=${device}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { events: { prob: number; decided: boolean }[] }).events.map((e) => [e.prob, e.decided]).sort();
const now = () => Date.now() / 1000;
const still = (n: number) => Array.from({ length: n }, () => [0, -1, 0]);

describe('max_future_skew_sec (default 60 s)', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startGateway();
    token = await h.token();
  });
  afterAll(() => h.close());

  test('a fall whose ts is more than 60 s ahead is refused with the reason; within 60 s it is stored', async () => {
    const before = h.gw.store.lastCommittedSeq;
    const r = await send(h, token, '/events/fall', { device_id: 'fast-clock', event: 'fall', prob: 0.05, ts: now() + 590 });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/^ts: is 59\d s in the future by the gateway's clock; at most 60 s is accepted \(max_future_skew_sec\)/) });
    expect(h.gw.store.lastCommittedSeq).toBe(before);
    expect((await send(h, token, '/events/fall', { device_id: 'fast-clock', event: 'walk', prob: 0.05, ts: now() + 30 })).status).toBe(200);
  });

  test('an IMU chunk ending more than 60 s ahead is refused, and does not make later chunks look already received', async () => {
    const r = await send(h, token, '/events/imu', { device_id: 'imu-clock', rate_hz: 50, t0: now() + 590, acc: still(50) });
    expect(r.status).toBe(400);
    expect(r.body.error_description).toMatch(/^t0: the chunk's last sample is 59\d s in the future.*max_future_skew_sec/);
    expect(await send(h, token, '/events/imu', { device_id: 'imu-clock', rate_hz: 50, t0: now() - 1, acc: still(50) })).toMatchObject({ status: 200, body: { accepted: 50 } });
  });

  test('chunks without t0 sent faster than real time are refused once they would run more than 60 s ahead', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await send(h, token, '/events/imu', { device_id: 'no-t0', rate_hz: 50, acc: still(500) })).status);
    // 10 s chunks from now: the 7th would end about 70 s ahead.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 400, 400]);
    const r = await send(h, token, '/events/imu', { device_id: 'no-t0', rate_hz: 50, acc: still(500) });
    expect(r.body.error_description).toMatch(/without t0 this chunk continues the previous one/);
  });
});

test('MAX_FUTURE_SKEW_SEC sets the tolerance', async () => {
  const h = await startGateway({ MAX_FUTURE_SKEW_SEC: '1200' });
  try {
    const token = await h.token();
    expect((await send(h, token, '/events/fall', { device_id: 'x', event: 'walk', prob: 0.1, ts: now() + 900 })).status).toBe(200);
    expect((await send(h, token, '/events/fall', { device_id: 'x', event: 'walk', prob: 0.1, ts: now() + 1300 })).body.error_description).toMatch(/at most 1200 s/);
  } finally {
    await h.close();
  }
});

test("a fall stamped ahead of the gateway's clock starts its cooldown on the gateway's clock, not later", async () => {
  const h = await startGateway({ FALL_COOLDOWN_SEC: '2' });
  try {
    const token = await h.token();
    // 50 s ahead (within the tolerance): with the device's clock the cooldown would last until now + 52 s.
    expect((await send(h, token, '/events/fall', { device_id: 'ahead', event: 'fall', prob: 0.6, ts: now() + 50 })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2500));
    expect((await send(h, token, '/events/fall', { device_id: 'ahead', event: 'fall', prob: 0.99 })).status).toBe(200);
    expect(await decided(h, 'ahead')).toEqual([[0.6, true], [0.99, true]]);
  } finally {
    await h.close();
  }
});
