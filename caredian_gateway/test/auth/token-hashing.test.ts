// Secret hashing for POST /auth/cc/token runs on its own thread, not on libuv's shared pool (the
// one the event log's writes and fsyncs use), and costs the same whether the secret is right.
import { execFileSync } from 'node:child_process';
import { closeSync, constants, open, openSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthModule } from '../../src/auth/auth-module.js';
import { CLIENT_ID, CLIENT_SECRET, startGateway, tempDir } from '../support/harness.js';
import { send, statusCounts, tokenFrom } from './loopback.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Occupies every libuv pool thread with an open() of a FIFO that nobody writes; returns the release (once). */
function blockLibuvPool(dir: string): () => Promise<void> {
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const fifos = Array.from({ length: threads }, (_, i) => join(dir, `block-${i}`));
  for (const f of fifos) execFileSync('mkfifo', [f]);
  const readers = fifos.map((f) => new Promise<number>((res, rej) => open(f, 'r', (e, fd) => (e ? rej(e) : res(fd)))));
  let released: Promise<void> | undefined;
  return () => (released ??= unblock());
  async function unblock() {
    const giveUp = Date.now() + 5_000;
    for (const f of fifos) {
      for (;;) {
        try {
          closeSync(openSync(f, constants.O_WRONLY | constants.O_NONBLOCK));
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > giveUp) throw e;
          await sleep(10);
        }
      }
    }
    for (const fd of await Promise.all(readers)) closeSync(fd);
  }
}

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`no answer within ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(t));
}

test('with every libuv pool thread blocked, wrong and unknown credentials are still answered 401', async () => {
  const h = await startGateway();
  const dir = tempDir('caredian-fifo-');
  const release = blockLibuvPool(dir);
  try {
    // The pool really is blocked: an fs call does not complete.
    const probe = stat(dir);
    const probeState = await Promise.race([probe.then(() => 'done'), sleep(300).then(() => 'pending')]);
    expect(probeState).toBe('pending');

    const answers = await within(
      10_000,
      Promise.all([tokenFrom(h.url, '127.0.0.9', CLIENT_ID, 'a-wrong-secret-123'), tokenFrom(h.url, '127.0.0.9', 'no-such-device', 'whatever-secret-1'), tokenFrom(h.url, '127.0.0.10', CLIENT_ID, 'another-wrong-one')]),
      'token requests while the pool is blocked',
    );
    expect(statusCounts(answers)).toEqual({ 401: 3 });
    await release();
    await probe;
    // Issuing a token (RSA signing) may use the pool: once released, the right secret works.
    expect((await tokenFrom(h.url, '127.0.0.9', CLIENT_ID, CLIENT_SECRET)).status).toBe(200);
  } finally {
    await release().catch(() => {});
    await h.close();
    execFileSync('rm', ['-rf', dir]);
  }
});

test('a wrong secret costs the same hashing as a right one, for known and unknown ids and for Basic secrets that change under form-decoding', async () => {
  const h = await startGateway({ CC_CLIENTS_JSON: JSON.stringify({ [CLIENT_ID]: CLIENT_SECRET, 'plus-device': 'abc+def+ghi+jkl+mno' }) });
  try {
    const hashes = () => h.gw.module(AuthModule)!.clients.stats.hashes;
    const cost = async (call: () => Promise<{ status: number }>, status: number) => {
      const before = hashes();
      expect((await call()).status).toBe(status);
      return hashes() - before;
    };
    const json = (id: string, secret: string) => () => send(h.url, '/auth/cc/token', { from: '127.0.0.11', body: JSON.stringify({ client_id: id, client_secret: secret }), headers: { 'Content-Type': 'application/json' } });
    expect(await cost(json(CLIENT_ID, 'a-wrong-secret-123'), 401)).toBe(1);
    expect(await cost(json('no-such-device', 'a-wrong-secret-123'), 401)).toBe(1);
    expect(await cost(json(CLIENT_ID, CLIENT_SECRET), 200)).toBe(1);
    // Verified recently: the same request again skips the hash.
    expect(await cost(json(CLIENT_ID, CLIENT_SECRET), 200)).toBe(0);
    // A device that does not form-encode its Basic secret ('+' would decode to ' '): both
    // readings are checked in one job, as for a wrong secret of the same shape.
    expect(await cost(() => tokenFrom(h.url, '127.0.0.11', 'plus-device', 'abc+def+ghi+jkl+mno'), 200)).toBe(2);
    expect(await cost(() => tokenFrom(h.url, '127.0.0.11', 'plus-device', 'abc+def+ghi+jkl+xyz'), 401)).toBe(2);
  } finally {
    await h.close();
  }
});

test('when the hashing queue is full, requests get 503 with Retry-After at once instead of waiting', async () => {
  // No queue at all: whatever arrives while the one hashing thread is busy is turned away.
  const h = await startGateway({}, { tokenRoute: { hashQueue: 0 } });
  try {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFrom(h.url, '127.0.0.12', `unknown-${i}`, 'wrong-wrong-wrong-wrong')));
    const counts = statusCounts(answers);
    expect(Object.keys(counts).every((s) => s === '401' || s === '503')).toBe(true);
    expect(counts[503]).toBeGreaterThan(0);
    const busy = answers.find((a) => a.status === 503)!;
    expect(busy.headers['retry-after']).toBe('1');
    expect(JSON.parse(busy.body)).toMatchObject({ error: 'temporarily_unavailable' });
  } finally {
    await h.close();
  }
});
