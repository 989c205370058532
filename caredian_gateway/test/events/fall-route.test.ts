import { startGateway, type Harness } from '../support/harness.js';

let h: Harness;
let token: string;
beforeAll(async () => {
  h = await startGateway({ LOCATION_DEFAULT: 'hallway' });
  token = await h.token('events:fall:ingest');
});
afterAll(() => h.close());

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers }, body });
const events = async (q = '') => ((await (await fetch(`${h.adminUrl}/api/events?limit=1000${q}`, { headers: { Authorization: 'Bearer test-admin-token-0123456789' } })).json()) as { events: { event_id: string; location: string; device_id: string; prob: number; time: string; source: string }[] }).events;

describe('POST /events/fall accepts', () => {
  test("the seed's body and answers the seed's response plus the event id", async () => {
    const r = await post(JSON.stringify({ device_id: 'esp32-01', location: 'living_room', event: 'fall', prob: 0.93, ts: 1730000000 }));
    expect(r.status).toBe(200);
    const b = (await r.json()) as { ok: boolean; written: number; event_id: string };
    // The seed's fields, the event id, and the alert the fall opened (open at once: no wearer's window in these tests).
    expect(b).toEqual({ ok: true, written: 1, event_id: expect.stringMatching(/^[0-9a-f-]{36}$/), alert: { id: b.event_id, state: 'open' } });
    const stored = (await events('&device_id=esp32-01')).find((e) => e.event_id === b.event_id);
    expect(stored).toMatchObject({ device_id: 'esp32-01', location: 'living_room', prob: 0.93, source: 'sensor', time: '2024-10-27T03:33:20.000Z' });
  });

  test('location defaults to LOCATION_DEFAULT, fractional ts, Korean and spaced names', async () => {
    const r = await post(JSON.stringify({ device_id: 'band 02', event: 'sit', prob: 0, ts: 1730000000.25 }));
    expect(r.status).toBe(200);
    const r2 = await post(JSON.stringify({ device_id: 'band 02', location: '거실', event: 'walk', prob: 1 }));
    expect(r2.status).toBe(200);
    const list = await events('&device_id=band%2002');
    expect(list.map((e) => e.location).sort()).toEqual(['hallway', '거실']);
  });

  test('only falls are decided: other events are listed with decided false', async () => {
    await post(JSON.stringify({ device_id: 'band 03', event: 'walk', prob: 0.7 }));
    await post(JSON.stringify({ device_id: 'band 03', event: 'fall', prob: 0.7 }));
    const list = (await events('&device_id=band%2003')) as unknown as { event: string; decided: boolean }[];
    expect(list.map((e) => [e.event, e.decided]).sort()).toEqual([['fall', true], ['walk', false]]);
  });

  test('a retry with the same event_id is acknowledged but stored once', async () => {
    const body = JSON.stringify({ device_id: 'esp32-07', event: 'fall', prob: 0.8, event_id: 'boot3-000017' });
    const before = h.gw.store.lastCommittedSeq;
    const results = await Promise.all([post(body), post(body), post(body)]);
    const bodies = (await Promise.all(results.map((r) => r.json()))) as { written: number; event_id: string; duplicate?: boolean }[];
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(bodies.map((b) => b.written).sort()).toEqual([0, 0, 1]);
    expect(new Set(bodies.map((b) => b.event_id))).toEqual(new Set(['boot3-000017']));
    expect(h.gw.store.lastCommittedSeq).toBe(before + 1);
    const later = (await (await post(body)).json()) as { written: number; duplicate: boolean };
    expect(later).toMatchObject({ written: 0, duplicate: true });
    // The same event id from another device is a different event.
    expect(((await (await post(JSON.stringify({ device_id: 'esp32-08', event: 'fall', prob: 0.8, event_id: 'boot3-000017' }))).json()) as { written: number }).written).toBe(1);
  });

  test('events of one device in the same second all get distinct timestamps', async () => {
    const rs = await Promise.all(Array.from({ length: 20 }, () => post(JSON.stringify({ device_id: 'burst', event: 'fall', prob: 0.5, ts: 1750000000 }))));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    const list = await events('&device_id=burst');
    expect(list).toHaveLength(20);
    const ns = [...h.gw.store.scan()].filter((r) => r.device_id === 'burst').map((r) => r.ts_ns);
    expect(new Set(ns).size).toBe(20);
  });
});

// Device requests take the fast path; requests with an Origin header go through Express. Both must agree.
describe.each([
  ['fast path', {}],
  ['Express (request with Origin)', { Origin: 'http://browser.example' }],
])('POST /events/fall rejects bad input, stores nothing and keeps serving (%s)', (_via, via: Record<string, string>) => {
  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...via, ...headers }, body });
  const ok = { device_id: 'esp32-01', location: 'kitchen', event: 'fall', prob: 0.5 };
  const cases: [string, string, number, RegExp][] = [
    ['malformed JSON', '{"device_id": "x", ', 400, /not valid JSON/],
    ['a JSON array', '[1,2,3]', 400, /body/],
    ['a JSON string', '"fall"', 400, /not valid JSON|body: .*object/],
    ['null', 'null', 400, /not valid JSON|body: .*object/],
    ['an empty body', '', 400, /not valid JSON|body: .*object/],
    ['missing device_id', JSON.stringify({ ...ok, device_id: undefined }), 400, /device_id/],
    ['empty device_id', JSON.stringify({ ...ok, device_id: '' }), 400, /device_id/],
    ['device_id with a newline', JSON.stringify({ ...ok, device_id: 'esp\nfall_events,device_id=x prob=1' }), 400, /device_id/],
    ['device_id with a control character', JSON.stringify({ ...ok, device_id: 'esp\u0007' }), 400, /device_id/],
    ['device_id ending in a backslash', JSON.stringify({ ...ok, device_id: 'esp\\' }), 400, /device_id/],
    ['device_id with comma and equals', JSON.stringify({ ...ok, device_id: 'a,b=c' }), 400, /device_id/],
    ['device_id of 65 characters', JSON.stringify({ ...ok, device_id: 'a'.repeat(65) }), 400, /device_id/],
    ['location with a quote', JSON.stringify({ ...ok, location: 'x"y' }), 400, /location/],
    ['location with trailing space', JSON.stringify({ ...ok, location: 'kitchen ' }), 400, /location/],
    ['device_id as a number', JSON.stringify({ ...ok, device_id: 42 }), 400, /device_id/],
    ['unknown event', JSON.stringify({ ...ok, event: 'explode' }), 400, /event: must be one of/],
    ['prob as a string', JSON.stringify({ ...ok, prob: '0.5' }), 400, /prob/],
    ['prob "NaN"', JSON.stringify({ ...ok, prob: 'NaN' }), 400, /prob/],
    ['prob overflowing to Infinity', '{"device_id":"esp32-01","event":"fall","prob":1e400}', 400, /prob/],
    ['prob above 1', JSON.stringify({ ...ok, prob: 1.5 }), 400, /prob/],
    ['prob negative', JSON.stringify({ ...ok, prob: -0.1 }), 400, /prob/],
    ['missing prob', JSON.stringify({ ...ok, prob: undefined }), 400, /prob/],
    ['ts before 2000', JSON.stringify({ ...ok, ts: 1000 }), 400, /ts: .*2000/],
    ['ts in milliseconds', JSON.stringify({ ...ok, ts: Date.now() }), 400, /milliseconds/],
    ['ts far in the future', JSON.stringify({ ...ok, ts: Date.now() / 1000 + 86400 }), 400, /future/],
    ['ts as a string', JSON.stringify({ ...ok, ts: '1730000000' }), 400, /ts/],
    ['event_id with spaces', JSON.stringify({ ...ok, event_id: 'a b' }), 400, /event_id/],
    ['event_id too long', JSON.stringify({ ...ok, event_id: 'x'.repeat(65) }), 400, /event_id/],
  ];
  test.each(cases)('%s', async (_name, body, status, why) => {
    const before = h.gw.store.lastCommittedSeq;
    const r = await post(body);
    expect(r.status).toBe(status);
    const b = (await r.json()) as { ok: boolean; error: string; error_description: string };
    expect(b.ok).toBe(false);
    expect(b.error).toBe('invalid_request');
    expect(b.error_description).toMatch(why);
    expect(h.gw.store.lastCommittedSeq).toBe(before);
  });

  test('an oversized body: 413 with a JSON reason', async () => {
    const before = h.gw.store.lastCommittedSeq;
    const r = await post(JSON.stringify({ ...ok, pad: 'x'.repeat(100_000) }));
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe('payload_too_large');
    expect(h.gw.store.lastCommittedSeq).toBe(before);
  });

  test('a non-JSON content type: 415', async () => {
    const r = await post('device_id=x', { 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
    expect(((await r.json()) as { error: string }).error).toBe('unsupported_media_type');
  });

  test('the server still serves after all of that', async () => {
    const r = await post(JSON.stringify(ok));
    expect(r.status).toBe(200);
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
  });
});

describe('backpressure', () => {
  test('a full log answers 503 with Retry-After and stores nothing', async () => {
    const g = await startGateway({ EVENT_LOG_MAX_MB: '1' });
    try {
      const t = await g.token('events:fall:ingest');
      const send = () => fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'd1', event: 'walk', prob: 0.1 }) });
      let status = 200;
      let n = 0;
      while (status === 200 && n < 10_000) {
        const rs = await Promise.all(Array.from({ length: 50 }, send));
        n += rs.filter((r) => r.status === 200).length;
        status = rs.find((r) => r.status !== 200)?.status ?? 200;
        const full = rs.find((r) => r.status === 503);
        if (full) {
          expect(full.headers.get('retry-after')).toBe('5');
          expect(((await full.json()) as { error: string }).error).toBe('backlog_full');
        }
      }
      expect(status).toBe(503);
      expect(g.gw.store.lastCommittedSeq).toBe(n);
      expect((await fetch(`${g.url}/ready`)).status).toBe(503);
    } finally {
      await g.close();
    }
  });
});
