// Token requests let in at a bounded rate, in turns over source addresses, on a real HTTP server
// (the admission in front of a handler that answers at once, as Express would).
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TokenAdmission, TOKEN_PATH } from '../../src/auth/token-admission.js';

let server: Server;
let admission: TokenAdmission;
const served: string[] = [];

async function start(o: ConstructorParameters<typeof TokenAdmission>[0]) {
  admission = new TokenAdmission(o);
  server = createServer((req, res) => {
    const go = () => {
      served.push(`${req.socket.remoteAddress} ${req.headers['x-n']}`);
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok');
    };
    if (!admission.handle(req, res, go)) go();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
}
afterEach(async () => {
  admission.close();
  served.length = 0;
  await new Promise((r) => server.close(r));
});

function post(from: string, n: string, path = TOKEN_PATH): Promise<{ status: number; retryAfter?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path, method: 'POST', localAddress: from, headers: { 'x-n': n, 'Content-Length': 2, Connection: 'close' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body }));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

test('at most perSec a second; what waits is served in turns over addresses, a single device ahead of a flood', async () => {
  await start({ perSec: 20, perAddressQueue: 100 });
  const flood = Array.from({ length: 30 }, (_, i) => post('127.0.3.1', `flood-${i}`));
  await new Promise((r) => setTimeout(r, 30));
  const device = post('127.0.3.2', 'device');
  const t0 = Date.now();
  const answers = await Promise.all([...flood, device]);
  expect(answers.every((a) => a.status === 200)).toBe(true);
  // 31 requests at 20 a second with a burst of 2: at least 1.4 s.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1300);
  // The device arrived behind 30 waiting requests of one address and was served within a few turns.
  const at = served.indexOf('127.0.3.2 device');
  expect(at).toBeGreaterThan(0);
  expect(at).toBeLessThanOrEqual(4);
  expect(served).toHaveLength(31);
});

test('beyond an address queue, 503 with Retry-After at once; other addresses still wait their turn; other paths never wait', async () => {
  await start({ perSec: 5, perAddressQueue: 3 });
  const first = await Promise.all(Array.from({ length: 8 }, (_, i) => post('127.0.4.1', `a-${i}`)).concat([post('127.0.4.2', 'b-0')]));
  const busy = first.filter((a) => a.status === 503);
  // A burst of 1 at 5 a second: 1 in now, 3 wait, 4 refused; the other address waits and is served.
  expect(busy).toHaveLength(4);
  expect(busy[0]).toMatchObject({ retryAfter: '1' });
  expect(JSON.parse(busy[0]!.body)).toMatchObject({ error: 'temporarily_unavailable' });
  expect(first.filter((a) => a.status === 200)).toHaveLength(5);
  expect(served).toContain('127.0.4.2 b-0');
  expect(admission.refused).toBe(4);
  const other = await Promise.all(Array.from({ length: 10 }, (_, i) => post('127.0.4.1', `x-${i}`, '/events/fall')));
  expect(other.every((a) => a.status === 200)).toBe(true);
});

test('a request that gives up while waiting is not served, and its place goes to the next', async () => {
  await start({ perSec: 2, perAddressQueue: 10 });
  const kept = [post('127.0.5.1', 'k-0'), post('127.0.5.1', 'k-1')];
  const port = (server.address() as AddressInfo).port;
  const quitter = request({ host: '127.0.0.1', port, path: TOKEN_PATH, method: 'POST', localAddress: '127.0.5.2', headers: { 'x-n': 'quit', 'Content-Length': 2 } });
  quitter.on('error', () => undefined);
  quitter.end('{}');
  await new Promise((r) => setTimeout(r, 100));
  quitter.destroy();
  const last = post('127.0.5.3', 'last');
  await Promise.all([...kept, last]);
  await new Promise((r) => setTimeout(r, 700));
  expect(served).not.toContain('127.0.5.2 quit');
  expect(served).toEqual(['127.0.5.1 k-0', '127.0.5.1 k-1', '127.0.5.3 last']);
  expect(admission.queued).toBe(0);
});

test('an address that was issued a token goes before every address that was not, then the turns go on', async () => {
  await start({ perSec: 10, perAddressQueue: 100 });
  admission.trust('127.0.6.9');
  const flood = Array.from({ length: 8 }, (_, i) => post(`127.0.6.${(i % 4) + 1}`, `flood-${i}`));
  await new Promise((r) => setTimeout(r, 30));
  const device = [post('127.0.6.9', 'device-0'), post('127.0.6.9', 'device-1')];
  await Promise.all([...flood, ...device]);
  // A burst of 1: flood-0 went in at once; then both device requests, ahead of the 7 waiting.
  expect(served.slice(0, 3)).toEqual(['127.0.6.1 flood-0', '127.0.6.9 device-0', '127.0.6.9 device-1']);
  expect(served).toHaveLength(10);
});
