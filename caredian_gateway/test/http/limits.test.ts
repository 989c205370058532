// Connection and body limits on the listeners, over real loopback sockets. Several source
// addresses (127.0.0.2, .3, ...) stand for different clients; Linux routes all of 127/8 to lo.
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { CLIENT_ID, startGateway, waitFor, type Harness } from '../support/harness.js';
import { closedWithin, openSocket, postEndless } from './raw-http.js';

const portOf = (url: string) => Number(new URL(url).port);
const MB = 1024 * 1024;

/** Opens `n` connections from `from`; resolves with those the server still holds after `settleMs`. */
async function openIdle(port: number, from: string, n: number, settleMs = 1500): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) sockets.push(await openSocket(port, from));
  const closed = await Promise.all(sockets.map((s) => closedWithin(s, settleMs)));
  return sockets.filter((_s, i) => closed[i] === null);
}

const destroyAll = (sockets: Socket[]) => sockets.forEach((s) => s.destroy());

describe('oversized request bodies are refused as soon as they pass the route limit', () => {
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    h = await startGateway({ PROXY_UPSTREAMS_JSON: JSON.stringify({ dead: { url: 'http://127.0.0.1:9/', require_signature: false } }) });
    token = await h.token();
  });
  afterAll(() => h.close());

  const paths = ['/events/fall', '/devices/heartbeat', '/events/imu'];
  const framings: [string, number | undefined][] = [
    ['chunked', undefined],
    ['Content-Length', 50 * MB],
  ];
  // Device requests take the fast path; requests with an Origin header go through Express.
  const vias: [string, Record<string, string>][] = [
    ['fast path', {}],
    ['Express', { Origin: 'http://browser.example' }],
  ];
  const cases = paths.flatMap((p) => framings.map(([framing, declared]) => [p, framing, declared] as const));
  const post = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify(body) });

  test.each(cases)('%s, %s: 413 JSON before the body ends on both paths, the connection closes, nothing is stored, serving goes on', async (path, _framing, declared) => {
    for (const [via, headers] of vias) {
      const before = h.gw.store.lastCommittedSeq;
      // 16 MB that never ends: more than the socket buffers hold, so a server that read on would stall the writer.
      const r = await postEndless(portOf(h.url), path, { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, ...headers }, { maxBytes: 16 * MB, declared, waitMs: 10_000 });
      expect([via, r.status]).toEqual([via, 413]);
      expect(r.body).toEqual({ ok: false, error: 'payload_too_large', error_description: expect.any(String) });
      expect(r.headers).toMatch(/^content-type: application\/json/im);
      expect(r.sentBeforeReply).toBeLessThan(16 * MB);
      expect([via, r.closedByServer]).toEqual([via, true]);
      expect(h.gw.store.lastCommittedSeq).toBe(before);
      expect((await post('/events/fall', { device_id: CLIENT_ID, event: 'fall', prob: 0.9 }, headers)).status).toBe(200);
      expect((await post('/devices/heartbeat', { device_id: CLIENT_ID, battery: 80 }, headers)).status).toBe(200);
    }
  });

  test.each([
    ['a device route through Express', '/events/fall', { Origin: 'http://browser.example' }],
    ['the AI proxy', '/proxy/dead', {}],
  ])('an answer before the body (401 from %s) also closes the connection instead of draining it', async (_name, path, headers) => {
    const r = await postEndless(portOf(h.url), path, { 'Content-Type': 'application/json', Authorization: 'Bearer not-a-token', ...headers }, { maxBytes: 16 * MB, waitMs: 10_000 });
    expect(r.status).toBe(401);
    expect(r.closedByServer).toBe(true);
    expect((await fetch(`${h.url}/health`)).status).toBe(200);
  });
});

describe('connection caps', () => {
  test('idle connections from one address take at most MAX_CONNECTIONS_PER_ADDRESS slots; other clients are served', async () => {
    const h = await startGateway({ MAX_CONNECTIONS: '64', MAX_CONNECTIONS_PER_ADDRESS: '4' });
    const port = portOf(h.url);
    const held: Socket[] = [];
    try {
      const flood = await openIdle(port, '127.0.0.2', 40);
      held.push(...flood);
      expect(flood).toHaveLength(4);
      // Another address has its own allowance.
      const other = await openIdle(port, '127.0.0.3', 4);
      held.push(...other);
      expect(other).toHaveLength(4);
      const token = await h.token('events:fall:ingest');
      const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.9 }) });
      expect(r.status).toBe(200);
      expect(h.logs.text).toMatch(/connections refused: connection limit reached/);
      expect(h.logs.text).not.toMatch(/"level":50/);
    } finally {
      destroyAll(held);
      await h.close();
    }
  });

  test('MAX_CONNECTIONS caps the total; the slots come back when clients leave', async () => {
    const h = await startGateway({ MAX_CONNECTIONS: '8', MAX_CONNECTIONS_PER_ADDRESS: '0' });
    const port = portOf(h.url);
    const held: Socket[] = [];
    try {
      held.push(...(await openIdle(port, '127.0.0.4', 8)));
      expect(held).toHaveLength(8);
      expect(await openIdle(port, '127.0.0.5', 1)).toHaveLength(0);
      destroyAll(held.splice(0));
      await waitFor(async () => (await fetch(`${h.url}/health`).catch(() => undefined))?.status === 200, 5000, 'a free slot');
    } finally {
      destroyAll(held);
      await h.close();
    }
  });
});

describe('timeouts', () => {
  let h: Harness;
  let upstream: Server;
  const KEY = 'limits-key-0123456789abcdef';
  beforeAll(async () => {
    // Streams five chunks a second apart: its answer outlasts the request timeout twice over.
    upstream = createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      let n = 0;
      const t = setInterval(() => {
        res.write(`chunk ${n}\n`);
        if (++n === 5) {
          clearInterval(t);
          res.end();
        }
      }, 1000);
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    h = await startGateway({
      HTTP_HEADERS_TIMEOUT_SEC: '1',
      HTTP_REQUEST_TIMEOUT_SEC: '2',
      HTTP_KEEP_ALIVE_TIMEOUT_SEC: '1',
      API_KEYS_JSON: JSON.stringify({ tester: KEY }),
      PROXY_UPSTREAMS_JSON: JSON.stringify({ slow: { url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/`, require_signature: false, timeout_ms: 5000 } }),
    });
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => upstream.close(r));
  });

  test('half-sent request headers are closed within the headers timeout, on both ports', async () => {
    for (const url of [h.url, h.adminUrl]) {
      const s = await openSocket(portOf(url));
      s.write('POST /events/fall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appli');
      expect(await closedWithin(s, 3 * 1000)).not.toBeNull();
    }
  });

  test('a connection that never sends anything is closed within the headers timeout', async () => {
    const s = await openSocket(portOf(h.url));
    expect(await closedWithin(s, 3 * 1000)).not.toBeNull();
  });

  test('an idle kept-alive connection is closed after the keep-alive timeout', async () => {
    const s = await openSocket(portOf(h.url));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString()));
    s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    // Node keeps an idle socket one second past the keep-alive timeout.
    expect(await closedWithin(s, 3 * (1000 + 1000))).not.toBeNull();
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toMatch(/keep-alive/i);
  });

  test('the request timeout cuts a body that trickles in, but not a streamed answer that takes longer', async () => {
    const token = await h.token('events:fall:ingest');
    const s = await openSocket(portOf(h.url));
    s.write(`POST /events/fall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${token}\r\nContent-Length: 100\r\n\r\n{"device_id":`);
    expect(await closedWithin(s, 3 * 2000)).not.toBeNull();

    const started = Date.now();
    const r = await fetch(`${h.url}/proxy/slow/stream`, { headers: { Authorization: `Bearer ${KEY}` } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe([0, 1, 2, 3, 4].map((n) => `chunk ${n}\n`).join(''));
    expect(Date.now() - started).toBeGreaterThan(2 * 2000);
  });
});
