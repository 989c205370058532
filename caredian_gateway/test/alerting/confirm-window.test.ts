// The wearer's window: a decided fall waits `confirm_window_sec` (shortened here, real time) for an
// "I'm OK" before caregivers are alerted. Against a real local webhook receiver.
import { createServer, type Server } from 'node:http';
import { freePort } from '../../src/devtools/influxd.js';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';
import { startChildGateway } from '../support/child-gateway.js';

interface Hit {
  at: number;
  json: Record<string, unknown>;
}

class Receiver {
  got: Hit[] = [];
  private server?: Server;
  constructor(readonly port: number) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        this.got.push({ at: Date.now(), json: JSON.parse(body) as Record<string, unknown> });
        res.end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }
  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => (this.server ? this.server.close(r) : r(undefined)));
  }
  ofType(t: string): Hit[] {
    return this.got.filter((g) => g.json.type === t);
  }
}

const OTHER = { id: 'band-other', secret: 'another-band-secret-123' };
const clients = JSON.stringify([
  { client_id: CLIENT_ID, secret: CLIENT_SECRET },
  { client_id: OTHER.id, secret: OTHER.secret },
]);

let rx: Receiver;
let h: Harness;

async function fall(token: string, body: Record<string, unknown> = {}): Promise<{ event_id: string; at: number }> {
  const at = Date.now();
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: CLIENT_ID, location: 'hall', event: 'fall', prob: 0.95, ...body }) });
  expect(r.status).toBe(200);
  return { event_id: ((await r.json()) as { event_id: string }).event_id, at };
}

const cancel = (id: string, token: string) => fetch(`${h.url}/alerts/${encodeURIComponent(id)}/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
const adminFalls = async () => ((await (await fetch(`${h.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: Record<string, unknown>[] }).falls;

beforeAll(async () => {
  rx = new Receiver(await freePort());
  await rx.start();
  h = await startGateway({ CC_CLIENTS_JSON: clients, CONFIRM_WINDOW_SEC: '5', FALL_COOLDOWN_SEC: '0', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
});
afterAll(async () => {
  await h?.close();
  await rx?.stop();
});
beforeEach(() => {
  rx.got = [];
});

test('a fall with a 5 s window and no cancel reaches the webhook after 5 s and before 7 s', async () => {
  const { event_id, at } = await fall(await h.token());
  await new Promise((r) => setTimeout(r, 500));
  expect((await adminFalls()).find((f) => f.id === event_id)).toMatchObject({ state: 'pending', pending_until_ms: expect.any(Number) });
  expect(rx.got).toEqual([]);
  await waitFor(() => rx.ofType('fall_detected').length > 0, 10_000, 'the alert after the window');
  const delay = rx.ofType('fall_detected')[0]!.at - at;
  expect(delay).toBeGreaterThanOrEqual(5000);
  expect(delay).toBeLessThan(7000);
  expect(rx.ofType('fall_detected')[0]!.json.alert_id).toBe(event_id);
  expect((await adminFalls()).find((f) => f.id === event_id)).toMatchObject({ state: 'open', alerted_ms: expect.any(Number) });
});

test('the answer to the post that raised the fall tells the wearer: pending, and until when it can be cancelled', async () => {
  const t = await h.token();
  const before = Date.now();
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.97, event_id: 'fall-answer-1' }) });
  const body = (await r.json()) as { event_id: string; alert: { id: string; state: string; cancel_before: string } };
  expect(body).toMatchObject({ ok: true, event_id: 'fall-answer-1', alert: { id: 'fall-answer-1', state: 'pending' } });
  const until = Date.parse(body.alert.cancel_before);
  expect(until).toBeGreaterThanOrEqual(before + 5000 - 50);
  expect(until).toBeLessThanOrEqual(Date.now() + 5000);
  // The device's retry is told the same.
  const again = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.97, event_id: 'fall-answer-1' }) });
  expect(await again.json()).toMatchObject({ duplicate: true, alert: { id: 'fall-answer-1', state: 'pending', cancel_before: body.alert.cancel_before } });
  // A walk is no fall: no alert in its answer.
  const walk = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'walk', prob: 0.1 }) });
  expect(((await walk.json()) as Record<string, unknown>).alert).toBeUndefined();
  expect((await cancel('fall-answer-1', t)).status).toBe(200);
});

test('a fall cancelled after 2 s never reaches any sink and is stored as cancelled by the wearer', async () => {
  const t = await h.token();
  const { event_id } = await fall(t);
  await new Promise((r) => setTimeout(r, 2000));
  const r = await cancel(event_id, t);
  expect(r.status).toBe(200);
  expect(await r.json()).toMatchObject({ ok: true, alert: { id: event_id, state: 'cancelled', cancelled_by_wearer: true } });
  await new Promise((res) => setTimeout(res, 5000));
  expect(rx.got).toEqual([]);
  expect((await adminFalls()).find((f) => f.id === event_id)).toMatchObject({ state: 'cancelled', cancelled_by_wearer: true });
  // The fall itself is stored, and the cancellation is an event of its own.
  const ev = (await (await fetch(`${h.adminUrl}/api/events?limit=50`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { events: Record<string, unknown>[] };
  expect(ev.events.some((e) => e.event_id === event_id && e.event === 'fall')).toBe(true);
  const stored = h.gw.store.readAfter(0, 10_000);
  expect(stored.some((e) => e.kind === 'alert' && e.alert_id === event_id && e.action === 'cancelled')).toBe(true);
  // A second cancel changes nothing.
  expect(await (await cancel(event_id, t)).json()).toMatchObject({ alert: { state: 'cancelled' } });
}, 15_000);

test('a cancel after the alert went out resolves it and tells every sink', async () => {
  const t = await h.token();
  const { event_id } = await fall(t);
  await waitFor(() => rx.ofType('fall_detected').length > 0, 10_000, 'the alert');
  const r = await cancel(event_id, t);
  expect(await r.json()).toMatchObject({ alert: { state: 'acknowledged', cancelled_by_wearer: true } });
  await waitFor(() => rx.ofType('fall_acknowledged').length > 0, 10_000, 'the resolution');
  expect(rx.ofType('fall_acknowledged')[0]!.json).toMatchObject({ alert_id: event_id, cancelled_by_wearer: true, acknowledged_by: `the wearer (${CLIENT_ID})` });
}, 15_000);

test("another device's token cannot cancel (403); bad ids and missing tokens are refused", async () => {
  const { event_id } = await fall(await h.token());
  const other = await h.token(undefined, [OTHER.id, OTHER.secret]);
  const r = await cancel(event_id, other);
  expect(r.status).toBe(403);
  expect(await r.json()).toMatchObject({ error: 'device_not_allowed' });
  expect((await adminFalls()).find((f) => f.id === event_id)).toMatchObject({ state: 'pending' });
  expect((await cancel('no-such-alert', other)).status).toBe(404);
  expect((await cancel('bad id\n', other)).status).toBe(400);
  expect((await fetch(`${h.url}/alerts/${event_id}/cancel`, { method: 'POST' })).status).toBe(401);
  expect((await fetch(`${h.url}/alerts/${event_id}/cancel`, { method: 'POST', headers: { Authorization: 'Bearer forged.token.here' } })).status).toBe(401);
  // The window still runs out and the alert goes out.
  await waitFor(() => rx.ofType('fall_detected').some((g) => g.json.alert_id === event_id), 10_000, 'the alert');
});

test('a help request is never delayed by the window', async () => {
  const t = await h.token();
  const at = Date.now();
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'help', prob: 1 }) });
  expect(r.status).toBe(200);
  await waitFor(() => rx.ofType('fall_detected').length > 0, 3000, 'the help alert');
  expect(rx.ofType('fall_detected')[0]!.at - at).toBeLessThan(2000);
  expect(rx.ofType('fall_detected')[0]!.json).toMatchObject({ kind: 'help' });
});

test('the page cancels for the wearer through the admin API', async () => {
  const { event_id } = await fall(await h.token());
  const r = await fetch(`${h.adminUrl}/api/falls/${event_id}/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(await r.json()).toMatchObject({ alert: { state: 'cancelled', cancelled_by_wearer: true } });
  await new Promise((res) => setTimeout(res, 5500));
  expect(rx.got.filter((g) => g.json.alert_id === event_id)).toEqual([]);
}, 15_000);

test('the gateway killed during a window and restarted after it ended still alerts', async () => {
  const dataDir = tempDir();
  const env = { DATA_DIR: dataDir, CONFIRM_WINDOW_SEC: '3', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) };
  const g1 = await startChildGateway(env);
  let g2;
  try {
    const t = await g1.token('events:fall:ingest');
    const r = await fetch(`${g1.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.9 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    await new Promise((res) => setTimeout(res, 500));
    await g1.kill('SIGKILL');
    await new Promise((res) => setTimeout(res, 3500));
    expect(rx.got).toEqual([]);
    g2 = await startChildGateway({ ...env, CONFIRM_WINDOW_SEC: '3' }, g1.ports);
    await waitFor(() => rx.ofType('fall_detected').some((g) => g.json.alert_id === event_id), 5000, 'the alert after the restart');
  } finally {
    await g1.kill();
    await g2?.kill();
  }
}, 30_000);

/** `sec` seconds of samples at 50 Hz from `t0`: lying still on the side, or walking upright. */
function samples(kind: 'still' | 'walk', sec: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < sec * 50; i++) {
    const noise = () => (Math.random() - 0.5) * 0.01;
    if (kind === 'still') out.push([1 + noise(), noise(), 0.02 + noise()]);
    else out.push([0.05 + noise(), 0.1 * Math.sin((i / 50) * 2 * Math.PI * 2), 1 + 0.35 * Math.sin((i / 50) * 2 * Math.PI * 2) + noise()]);
  }
  return out;
}

async function streamAfterFall(g: Harness, kind: 'still' | 'walk', sec: number): Promise<string> {
  const t = await g.token();
  const fallTs = Date.now() / 1000 - sec - 5;
  const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.95, ts: fallTs }) });
  const { event_id } = (await r.json()) as { event_id: string };
  // The device sends its backlog: the seconds after the fall, in chunks of up to 10 s.
  const all = samples(kind, sec);
  for (let s = 0; s < sec; s += 10) {
    const chunk = all.slice(s * 50, (s + 10) * 50);
    const c = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, rate_hz: 50, t0: fallTs + s, acc: chunk }) });
    expect(c.status).toBe(200);
  }
  return event_id;
}

test('a decided fall followed by 20 s of stillness alerts at once, marked not moving', async () => {
  const g = await startGateway({ CC_CLIENTS_JSON: clients, CONFIRM_WINDOW_SEC: '60', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
  try {
    const started = Date.now();
    const id = await streamAfterFall(g, 'still', 25);
    await waitFor(() => rx.ofType('fall_detected').some((x) => x.json.alert_id === id), 10_000, 'the alert');
    // Long before the 60 s window ended.
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(rx.ofType('fall_detected').find((x) => x.json.alert_id === id)!.json).toMatchObject({ not_moving: true });
    const f = ((await (await fetch(`${g.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: Record<string, unknown>[] }).falls.find((x) => x.id === id);
    expect(f).toMatchObject({ state: 'open', not_moving: true });
    expect(g.gw.store.readAfter(0, 10_000).some((e) => e.kind === 'alert' && e.alert_id === id && e.action === 'not_moving')).toBe(true);
  } finally {
    await g.close();
  }
}, 40_000);

test('a wearer who gets up and walks is recorded as moving again; the alert stays pending until a person answers', async () => {
  const g = await startGateway({ CC_CLIENTS_JSON: clients, CONFIRM_WINDOW_SEC: '60', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
  try {
    const id = await streamAfterFall(g, 'walk', 10);
    const f = await waitFor(async () => ((await (await fetch(`${g.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: Record<string, unknown>[] }).falls.find((x) => x.id === id && x.moving_again), 10_000, 'moving again');
    expect(f).toMatchObject({ state: 'pending', moving_again: true });
    expect(f.not_moving).toBeUndefined();
    expect(rx.got.filter((x) => x.json.alert_id === id)).toEqual([]);
  } finally {
    await g.close();
  }
}, 40_000);
