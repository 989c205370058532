// POST /auth/cc/token answers an oversized body (chunked or announced) with 413 at once and stops
// reading it, instead of draining it to the end.
import { request } from 'node:http';
import { CLIENT_ID, CLIENT_SECRET, startGateway, type Harness } from '../support/harness.js';
import { basic, tokenFrom } from './loopback.js';

let h: Harness;
beforeAll(async () => {
  h = await startGateway();
});
afterAll(() => h.close());

interface Upload {
  status: number;
  connection: string | undefined;
  answeredMs: number;
  closedMs: number;
}

/**
 * Sends body chunks as fast as the connection takes them until the server answers and closes
 * (or `giveUpMs` passes, then ends the body). With `contentLength`, announces that length.
 */
function upload(o: { contentType: string; contentLength?: number; giveUpMs: number }): Promise<Upload> {
  const u = new URL(h.url);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    let answered: { status: number; connection: string | undefined; answeredMs: number } | undefined;
    let stopped = false;
    const headers: Record<string, string> = { 'Content-Type': o.contentType, Authorization: basic(CLIENT_ID, CLIENT_SECRET) };
    if (o.contentLength !== undefined) headers['Content-Length'] = String(o.contentLength);
    const req = request({ host: u.hostname, port: u.port, path: '/auth/cc/token', method: 'POST', headers, agent: false }, (res) => {
      answered = { status: res.statusCode ?? 0, connection: res.headers.connection, answeredMs: Date.now() - t0 };
      res.resume();
    });
    const chunk = Buffer.alloc(16 * 1024, 'a');
    let sent = 0;
    const pump = () => {
      while (!stopped) {
        if (Date.now() - t0 > o.giveUpMs || (o.contentLength !== undefined && sent + chunk.length > o.contentLength)) {
          stopped = true;
          req.end();
          return;
        }
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
    };
    req.on('error', () => {}); // writing on after the server closed: EPIPE / ECONNRESET
    req.on('close', () => {
      stopped = true;
      if (answered) resolve({ ...answered, closedMs: Date.now() - t0 });
      else reject(new Error('connection closed without an answer'));
    });
    pump();
  });
}

describe('token request body limit', () => {
  test('a chunked body of many MB is answered 413 right away and the connection closed', async () => {
    const r = await upload({ contentType: 'application/x-www-form-urlencoded', giveUpMs: 15_000 });
    expect(r.status).toBe(413);
    expect(r.connection).toBe('close');
    // Loose bounds: the old code read on until the client gave up (15 s).
    expect(r.answeredMs).toBeLessThan(5_000);
    expect(r.closedMs).toBeLessThan(5_000);
    expect((await tokenFrom(h.url, '127.0.0.1', CLIENT_ID, CLIENT_SECRET)).status).toBe(200);
  });

  test('an announced Content-Length over the limit is answered 413 before the body is sent', async () => {
    const r = await upload({ contentType: 'application/json', contentLength: 50_000_000, giveUpMs: 15_000 });
    expect(r.status).toBe(413);
    expect(r.closedMs).toBeLessThan(5_000);
    expect((await tokenFrom(h.url, '127.0.0.1', CLIENT_ID, CLIENT_SECRET)).status).toBe(200);
  });
});
