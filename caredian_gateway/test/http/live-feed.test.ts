// GET /api/stream: the page's live updates (server-sent events) behind the admin token. Alerts
// arrive at once, device state at most once a second however busy the device, and an open stream
// does not hold up the gateway's stop.
import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';

interface Sse {
  events: { event: string; data: unknown }[];
  close(): void;
}

async function follow(h: Harness): Promise<Sse> {
  const ac = new AbortController();
  const r = await fetch(`${h.adminUrl}/api/stream`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` }, signal: ac.signal });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const out: Sse = { events: [], close: () => ac.abort() };
  void (async () => {
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) out.events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch {
      /* aborted */
    }
  })();
  return out;
}

const of = (s: Sse, event: string) => s.events.filter((e) => e.event === event).map((e) => e.data as Record<string, unknown>);

test('needs the admin token', async () => {
  const h = await startGateway();
  try {
    expect((await fetch(`${h.adminUrl}/api/stream`)).status).toBe(401);
  } finally {
    await h.close();
  }
});

test('a fall and its acknowledgement arrive as they happen; a busy device is sent once a second at most', async () => {
  const h = await startGateway();
  const s = await follow(h);
  try {
    await waitFor(() => of(s, 'hello').length === 1, 5000, 'hello');
    expect(of(s, 'hello')[0]).toMatchObject({ version: expect.any(String), checks: expect.any(Object) });
    const token = await h.token();
    const post = (path: string, body: unknown) => fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    const r = await post('/events/fall', { device_id: 'band-4', location: 'hall', event: 'fall', prob: 0.95 });
    const { event_id } = (await r.json()) as { event_id: string };
    await waitFor(() => of(s, 'alert').some((a) => a.id === event_id && a.state === 'open'), 2000, 'the alert, live');
    expect(of(s, 'event')).toEqual([expect.objectContaining({ device_id: 'band-4', event: 'fall', location: 'hall', prob: 0.95, event_id, time: expect.stringMatching(/Z$/) })]);
    await fetch(`${h.adminUrl}/api/falls/${event_id}/ack`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    await waitFor(() => of(s, 'alert').some((a) => a.id === event_id && a.state === 'acknowledged' && a.acknowledged_by === 'admin'), 2000, 'the acknowledgement, live');

    // 30 heartbeats within a second: the page hears of the device once or twice, with the last battery level.
    const before = s.events.length;
    const started = Date.now();
    for (let i = 0; i < 30; i++) expect((await post('/devices/heartbeat', { device_id: 'band-4', battery: 70 - i })).status).toBe(200);
    const elapsed = Date.now() - started;
    await waitFor(() => s.events.slice(before).some((e) => e.event === 'devices' && (e.data as { battery?: number }[]).some((d) => d.battery === 41)), 3000, 'the last battery level');
    const batches = s.events.slice(before).filter((e) => e.event === 'devices');
    expect(batches.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 2);
    // Heartbeats change device state only; they are not "events" of the page.
    expect(of(s, 'event')).toHaveLength(1);
  } finally {
    s.close();
    await h.close();
  }
});

test('an open stream does not hold up the gateway stopping', async () => {
  const h = await startGateway();
  const s = await follow(h);
  await waitFor(() => s.events.length > 0, 5000, 'hello');
  const t = Date.now();
  await h.close();
  // The listener would otherwise wait for its open connections (2 s) before closing them.
  expect(Date.now() - t).toBeLessThan(1500);
  s.close();
});
