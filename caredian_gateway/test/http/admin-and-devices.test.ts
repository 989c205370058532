import { ADMIN_TOKEN, startGateway, type Harness } from '../support/harness.js';
import { adminAuth } from '../../src/admin/admin-auth.js';
import type { DeviceState } from '../../src/domain/devices.js';
import { DeviceRegistry } from '../../src/devices/registry.js';

let h: Harness;
beforeAll(async () => {
  h = await startGateway({ DEVICE_OFFLINE_AFTER_SEC: '60' });
});
afterAll(() => h.close());
const admin = (path: string, init: RequestInit = {}) => fetch(`${h.adminUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as Record<string, string>) } });
const heartbeat = async (body: unknown, token?: string) =>
  fetch(`${h.url}/devices/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token ?? (await h.token('devices:write'))}` }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('admin listener', () => {
  test('standalone: the admin API needs Authorization: Bearer <ADMIN_TOKEN>', async () => {
    expect((await fetch(`${h.adminUrl}/api/status`)).status).toBe(401);
    expect((await fetch(`${h.adminUrl}/api/status`, { headers: { Authorization: 'Bearer nope' } })).status).toBe(401);
    const r = await admin('/api/status');
    expect(r.status).toBe(200);
    const s = (await r.json()) as Record<string, unknown>;
    expect(s).toMatchObject({ version: '0.1.0', mode: 'standalone', ready: true, uptime_s: expect.any(Number) });
    expect(s.checks).toMatchObject({ storage: { ready: true }, influxdb: { detail: expect.stringMatching(/not configured/) }, model: { ready: true, detail: expect.stringMatching(/^fallnet /), mode: 'sensor_or_model' }, home_assistant: { detail: 'not configured' } });
  });

  test('admin routes are never on the device port, device routes never on the admin port', async () => {
    for (const p of ['/api/status', '/api/devices', '/api/events', '/']) {
      const r = await fetch(`${h.url}${p}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect([p, r.status]).toEqual([p, 404]);
    }
    const t = await h.token();
    const r = await fetch(`${h.adminUrl}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: '{}' });
    expect(r.status).toBe(404);
  });

  test('add-on mode admits only the Supervisor ingress proxy and records the Home Assistant user', () => {
    const guard = adminAuth('addon', undefined);
    const run = (remote: string, headers: Record<string, string> = {}) => {
      let status = 0;
      let nextCalled = false;
      const res = { locals: {} as Record<string, unknown>, status(s: number) { status = s; return this; }, json() { return this; }, setHeader() {} };
      guard({ socket: { remoteAddress: remote }, headers } as never, res as never, () => (nextCalled = true));
      return { status, nextCalled, user: res.locals.adminUser };
    };
    expect(run('127.0.0.1')).toMatchObject({ status: 403, nextCalled: false });
    expect(run('172.30.32.1')).toMatchObject({ status: 403, nextCalled: false });
    expect(run('172.30.32.2', { 'x-remote-user-name': 'grandson', 'x-remote-user-id': 'abc' })).toMatchObject({ nextCalled: true, user: { name: 'grandson', id: 'abc', via: 'ingress' } });
    expect(run('::ffff:172.30.32.2')).toMatchObject({ nextCalled: true });
  });

  test('GET /api/events validates its query', async () => {
    for (const q of ['limit=0', 'limit=5000', 'limit=abc', 'since=yesterday', 'device_id=a%0Ab']) {
      const r = await admin(`/api/events?${q}`);
      expect([q, r.status]).toEqual([q, 400]);
    }
    expect((await admin('/api/events?since=2026-01-01T00:00:00Z&limit=10')).status).toBe(200);
  });
});

describe('devices', () => {
  test('a heartbeat is stored, the device appears online with its values, then goes offline on the bus', async () => {
    const events: [string, DeviceState][] = [];
    h.gw.bus.on('device.online', (d) => void events.push(['online', d]));
    h.gw.bus.on('device.offline', (d) => void events.push(['offline', d]));
    const r = await heartbeat({ device_id: 'watch-7', battery: 54.5, rssi: -61, fw: '2.0.1', uptime_s: 3600 });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ok: true, written: 1 });
    const list = ((await (await admin('/api/devices')).json()) as { devices: DeviceState[] }).devices;
    expect(list.find((d) => d.device_id === 'watch-7')).toMatchObject({ online: true, battery: 54.5, rssi: -61, fw: '2.0.1', uptime_s: 3600, client_id: 'esp32-01', first_seen: expect.any(String), last_seen: expect.any(String) });
    expect(events).toEqual([['online', expect.objectContaining({ device_id: 'watch-7' })]]);
    h.gw.module(DeviceRegistry)!.sweep(Date.now() + 61_000);
    expect(events.at(-1)).toEqual(['offline', expect.objectContaining({ device_id: 'watch-7', online: false })]);
    await heartbeat({ device_id: 'watch-7' });
    expect(events.at(-1)).toEqual(['online', expect.objectContaining({ device_id: 'watch-7', online: true })]);
  });

  test('a fall event also counts as the device being seen', async () => {
    const t = await h.token('events:fall:ingest');
    await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'radar-1', location: 'bathroom', event: 'fall', prob: 0.9 }) });
    const list = ((await (await admin('/api/devices')).json()) as { devices: DeviceState[] }).devices;
    expect(list.find((d) => d.device_id === 'radar-1')).toMatchObject({ online: true, location: 'bathroom', last_event: 'fall' });
  });

  const bad: [string, unknown, number][] = [
    ['battery over 100', { device_id: 'x', battery: 101 }, 400],
    ['battery as text', { device_id: 'x', battery: 'full' }, 400],
    ['rssi positive', { device_id: 'x', rssi: 5 }, 400],
    ['fw with a newline', { device_id: 'x', fw: '1.0\n2' }, 400],
    ['uptime negative', { device_id: 'x', uptime_s: -1 }, 400],
    ['device_id with control chars', { device_id: 'x\u0000' }, 400],
    ['malformed JSON', '{"device_id":', 400],
    ['oversized', { device_id: 'x', pad: 'y'.repeat(10_000) }, 413],
  ];
  test.each(bad)('heartbeat rejects %s and stores nothing', async (_n, body, status) => {
    const before = h.gw.store.lastCommittedSeq;
    const r = await heartbeat(body);
    expect(r.status).toBe(status);
    expect(((await r.json()) as { ok: boolean }).ok).toBe(false);
    expect(h.gw.store.lastCommittedSeq).toBe(before);
  });

  test('heartbeat needs devices:write', async () => {
    const r = await heartbeat({ device_id: 'x' }, await h.token('events:fall:ingest'));
    expect(r.status).toBe(403);
  });
});

describe('API documentation', () => {
  test('OpenAPI 3.1 generated from the zod schemas', async () => {
    const doc = (await (await fetch(`${h.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { properties: Record<string, unknown>; required: string[] } }> }; security?: unknown }>> };
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/auth/cc/token', '/events/fall', '/devices/heartbeat', '/health', '/ready', '/.well-known/jwks.json']));
    const fall = doc.paths['/events/fall']!.post!;
    const schema = fall.requestBody!.content['application/json']!.schema;
    expect(Object.keys(schema.properties).sort()).toEqual(['device_id', 'event', 'event_id', 'location', 'prob', 'ts']);
    expect(schema.required.sort()).toEqual(['device_id', 'event', 'prob']);
    expect(fall.security).toEqual([{ bearer: ['events:fall:ingest'] }]);
  });

  test('/docs is a readable page without scripts', async () => {
    const r = await fetch(`${h.url}/docs`);
    expect(r.headers.get('content-type')).toMatch(/text\/html/);
    const html = await r.text();
    expect(html).toContain('POST /events/fall');
    expect(html).not.toMatch(/<script/i);
  });

  test('security headers and CORS only for allowed origins', async () => {
    const r = await fetch(`${h.url}/health`, { headers: { Origin: 'http://evil.example' } });
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const g = await startGateway({ ALLOWED_ORIGINS: '["http://dash.example"]' });
    try {
      const pre = await fetch(`${g.url}/events/fall`, { method: 'OPTIONS', headers: { Origin: 'http://dash.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' } });
      expect(pre.status).toBe(204);
      expect(pre.headers.get('access-control-allow-origin')).toBe('http://dash.example');
      const other = await fetch(`${g.url}/health`, { headers: { Origin: 'http://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await g.close();
    }
  });
});
