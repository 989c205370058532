// Caps on new device ids: max_devices in all and max_new_devices_per_min per client. Past them a
// request is refused with 429 device_limit, nothing is stored, the refusal is logged once per
// client and shown in /api/status.
import { ADMIN_TOKEN, startGateway, type Harness } from '../support/harness.js';

const send = async (h: Harness, token: string, path: string, body: unknown) => {
  const r = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error?: string; limit?: string; error_description?: string } };
};
const admin = (h: Harness, path: string, method = 'GET') => fetch(`${h.adminUrl}${path}`, { method, headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
const refusalLogLines = (h: Harness) => h.logs.lines.filter((l) => l.includes('new device refused'));

describe('max_devices', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startGateway({ MAX_DEVICES: '3' });
    token = await h.token();
  });
  afterAll(() => h.close());

  test('past the maximum a new device gets 429 device_limit on every input and nothing is stored; known devices go on', async () => {
    for (const d of ['d1', 'd2', 'd3']) expect((await send(h, token, '/devices/heartbeat', { device_id: d })).status).toBe(200);
    const before = h.gw.store.lastCommittedSeq;
    const refused = [
      await send(h, token, '/devices/heartbeat', { device_id: 'd4', battery: 10 }),
      await send(h, token, '/events/fall', { device_id: 'd4', event: 'fall', prob: 0.9 }),
      await send(h, token, '/events/imu', { device_id: 'd4', rate_hz: 50, acc: [[0, -1, 0]] }),
      await send(h, token, '/devices/heartbeat', { device_id: 'd5' }),
    ];
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ ok: false, error: 'device_limit', limit: 'max_devices', error_description: expect.stringMatching(/max_devices/) });
      expect(r.retryAfter).toBeNull();
    }
    expect(h.gw.store.lastCommittedSeq).toBe(before);
    expect([...h.gw.store.scan()].some((e) => e.device_id === 'd4' || e.device_id === 'd5')).toBe(false);
    expect((await send(h, token, '/events/fall', { device_id: 'd1', event: 'walk', prob: 0.1 })).status).toBe(200);
  });

  test('the refusal is logged once for the client, not per request, and /api/status and /ready show it', async () => {
    expect(refusalLogLines(h)).toHaveLength(1);
    expect(JSON.parse(refusalLogLines(h)[0]!)).toMatchObject({ client_id: 'esp32-01', limit: 'max_devices' });
    const s = (await (await admin(h, '/api/status')).json()) as { checks: { ingest: Record<string, unknown> }; warnings: string[] };
    expect(s.checks.ingest).toMatchObject({ ready: true, devices: 3, max_devices: 3, refused_new_devices: { max_devices: 4 }, warning: expect.stringMatching(/new devices are being refused.*max_devices/) });
    const ready = (await (await fetch(`${h.url}/ready`)).json()) as { warnings: string[] };
    expect(ready.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/^ingest: new devices are being refused/)]));
  });

  test('removing a device on the admin side makes room for a new one', async () => {
    expect((await admin(h, '/api/devices/d3', 'DELETE')).status).toBe(200);
    expect((await admin(h, '/api/devices/d3', 'DELETE')).status).toBe(404);
    expect((await send(h, token, '/devices/heartbeat', { device_id: 'd4' })).status).toBe(200);
    expect((await send(h, token, '/devices/heartbeat', { device_id: 'd6' })).status).toBe(429);
  });
});

describe('max_new_devices_per_min', () => {
  test('a client introducing new devices too fast gets 429 with Retry-After; other clients and known devices are unaffected', async () => {
    const h = await startGateway({ MAX_NEW_DEVICES_PER_MIN: '2' });
    try {
      const token = await h.token();
      expect((await send(h, token, '/devices/heartbeat', { device_id: 'n1' })).status).toBe(200);
      expect((await send(h, token, '/events/fall', { device_id: 'n2', event: 'walk', prob: 0.2 })).status).toBe(200);
      const before = h.gw.store.lastCommittedSeq;
      const r = await send(h, token, '/devices/heartbeat', { device_id: 'n3' });
      expect(r.status).toBe(429);
      expect(r.body).toMatchObject({ error: 'device_limit', limit: 'max_new_devices_per_min', error_description: expect.stringMatching(/max_new_devices_per_min/) });
      expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(Number(r.retryAfter)).toBeLessThanOrEqual(60);
      expect((await send(h, token, '/events/fall', { device_id: 'n4', event: 'fall', prob: 0.9 })).status).toBe(429);
      expect(h.gw.store.lastCommittedSeq).toBe(before);
      // Devices already known are not new.
      expect((await send(h, token, '/devices/heartbeat', { device_id: 'n1' })).status).toBe(200);
      // The rate is per client.
      const other = await h.token('events:fall:ingest', ['sensor-fall-only', 'another-long-secret-1']);
      expect((await send(h, other, '/events/fall', { device_id: 'm1', event: 'walk', prob: 0.2 })).status).toBe(200);
      expect(refusalLogLines(h)).toHaveLength(1);
    } finally {
      await h.close();
    }
  });
});
