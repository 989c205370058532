// Device ownership: a token's client may post only for the device ids it owns, on every input.
import { ADMIN_TOKEN, startGateway, type Harness } from '../support/harness.js';

const CLIENTS = {
  // The seed's form: owns only the device id equal to its client id.
  'band-a': 'secret-of-band-a-0123',
  'band-b': { secret: 'secret-of-band-b-0123' },
  // A hub relaying a ward's sensors, plus one named device.
  'hub-3': { secret: 'secret-of-hub-3-01234', devices: ['ward3-*', 'lobby sensor'] },
  'trusted-hub': { secret: 'secret-of-trusted-0123', devices: '*' },
};
const SECRETS: Record<string, string> = { 'band-a': 'secret-of-band-a-0123', 'band-b': 'secret-of-band-b-0123', 'hub-3': 'secret-of-hub-3-01234', 'trusted-hub': 'secret-of-trusted-0123' };

let h: Harness;
const tokens: Record<string, string> = {};
beforeAll(async () => {
  h = await startGateway({ CC_CLIENTS_JSON: JSON.stringify(CLIENTS) });
  for (const id of Object.keys(SECRETS)) tokens[id] = await h.token('events:fall:ingest events:imu:ingest devices:write', [id, SECRETS[id]!]);
});
afterAll(() => h.close());

const post = async (client: string, path: string, body: unknown) => {
  const r = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tokens[client]}` }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
};
const admin = async <T>(path: string) => (await (await fetch(`${h.adminUrl}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as T;
const events = (device: string) => admin<{ events: { prob: number; decided: boolean }[] }>(`/api/events?limit=100&device_id=${encodeURIComponent(device)}`).then((b) => b.events);
const now = () => Date.now() / 1000;
const still = (n: number) => Array.from({ length: n }, () => [0, -1, 0]);

test("a fake fall from client A for B's device is refused and stored nowhere; B's own fall is decided and alerts", async () => {
  const before = h.gw.store.lastCommittedSeq;
  const fake = await post('band-a', '/events/fall', { device_id: 'band-b', event: 'fall', prob: 0.05, ts: now() + 590 });
  expect(fake.status).toBe(403);
  expect(fake.body).toMatchObject({ ok: false, error: 'device_not_allowed', error_description: expect.stringMatching(/band-a.*band-b/) });
  expect(h.gw.store.lastCommittedSeq).toBe(before);

  const real = await post('band-b', '/events/fall', { device_id: 'band-b', event: 'fall', prob: 0.99 });
  expect(real.status).toBe(200);
  expect(await events('band-b')).toEqual([expect.objectContaining({ prob: 0.99, decided: true })]);
  const falls = (await admin<{ falls: { device_id: string; probability: number; state: string }[] }>('/api/falls')).falls.filter((f) => f.device_id === 'band-b');
  expect(falls).toEqual([expect.objectContaining({ probability: 0.99, state: 'open' })]);
});

test("heartbeats and IMU chunks for another client's device are refused; B's own chunks are then accepted", async () => {
  const before = h.gw.store.lastCommittedSeq;
  const hb = await post('band-a', '/devices/heartbeat', { device_id: 'band-b', battery: 1 });
  expect([hb.status, hb.body.error]).toEqual([403, 'device_not_allowed']);
  // A chunk far ahead would have made B's real chunks look like already received samples.
  const imu = await post('band-a', '/events/imu', { device_id: 'band-b', rate_hz: 50, t0: now() + 590, acc: still(50) });
  expect([imu.status, imu.body.error]).toEqual([403, 'device_not_allowed']);
  expect(h.gw.store.lastCommittedSeq).toBe(before);
  const devices = (await admin<{ devices: { device_id: string; battery?: number }[] }>('/api/devices')).devices;
  expect(devices.find((d) => d.device_id === 'band-b')?.battery).toBeUndefined();

  const own = await post('band-b', '/events/imu', { device_id: 'band-b', rate_hz: 50, t0: now() - 2, acc: still(50) });
  expect(own).toMatchObject({ status: 200, body: { accepted: 50 } });
});

test('a hub owns the device ids its entry lists (prefixes ending in *), and only those', async () => {
  const cases: [string, string, number][] = [
    ['hub-3', 'ward3-bed1', 200],
    ['hub-3', 'ward3-bath', 200],
    ['hub-3', 'lobby sensor', 200],
    ['hub-3', 'ward4-bed1', 403],
    ['hub-3', 'ward3', 403],
    // A list replaces the default: the hub's own client id is not among its devices.
    ['hub-3', 'hub-3', 403],
    ['band-a', 'band-a', 200],
    ['band-a', 'band-a2', 403],
    ['trusted-hub', 'anything 42', 200],
    ['trusted-hub', 'ward3-bed1', 200],
  ];
  for (const [client, device, status] of cases) {
    const r = await post(client, '/devices/heartbeat', { device_id: device, battery: 50 });
    expect([client, device, r.status]).toEqual([client, device, status]);
    if (status === 403) expect(r.body.error).toBe('device_not_allowed');
  }
});

test('the refusals are counted in /api/status', async () => {
  const s = await admin<{ checks: { ingest: { refused_not_owned: number; ready: boolean } } }>('/api/status');
  expect(s.checks.ingest).toMatchObject({ ready: true, refused_not_owned: expect.any(Number) });
  expect(s.checks.ingest.refused_not_owned).toBeGreaterThanOrEqual(7);
});
