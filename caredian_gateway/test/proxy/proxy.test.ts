import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';
import { TextAnalyser } from '../support/text-analyser.js';
import { signRequest } from '../support/sign.js';
import { freePort } from '../../src/devtools/influxd.js';

const SEED_KEY = 'seed-key-0123456789abcdef';
let h: Harness;
let up: TextAnalyser;
let deadPort: number;

beforeAll(async () => {
  up = new TextAnalyser();
  await up.start();
  deadPort = await freePort();
  h = await startGateway({
    API_KEYS_JSON: JSON.stringify({ ingestor: SEED_KEY }),
    PROXY_UPSTREAMS_JSON: JSON.stringify({
      analyze: { url: `${up.url}/analyze`, timeout_ms: 1000, max_body_bytes: 4096 },
      open: { url: `${up.url}/open`, require_signature: false },
      dead: { url: `http://127.0.0.1:${deadPort}/x`, require_signature: false },
      big: { url: `${up.url}/big`, require_signature: false, timeout_ms: 20000 },
    }),
  });
});
afterAll(async () => {
  await h.close();
  await up.stop();
});

const admin = (path: string, init: RequestInit = {}) => fetch(`${h.adminUrl}${path}`, { ...init, headers: { Authorization: `Bearer ${ADMIN_TOKEN}`, 'Content-Type': 'application/json', ...(init.headers as Record<string, string>) } });
async function signedPost(path: string, body: string, key = SEED_KEY, sign: { path?: string; body?: string; method?: string; iat?: number; jti?: string; alg?: string } = {}, headers: Record<string, string> = {}) {
  const token = await signRequest(key, sign.method ?? 'POST', sign.path ?? path, sign.body ?? body, { iat: sign.iat, jti: sign.jti, alg: sign.alg });
  return fetch(`${h.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'X-Auth-Token': token, 'Content-Type': 'application/json', ...headers }, body });
}
const err = async (r: Response) => ((await r.json()) as { error: string; error_description: string });

describe('forwarding', () => {
  test('the upstream sees the exact bytes, without the client credentials, with X-Forwarded-*', async () => {
    const body = '{"text":  "너 바보야\\u0021",\n "n": 1.50, "dup": 1, "dup": 2}';
    const before = up.received.length;
    const r = await signedPost('/proxy/analyze', body);
    expect(r.status).toBe(200);
    expect(r.headers.get('x-upstream')).toBe('analyser');
    const b = (await r.json()) as { profanity: boolean; received_bytes: number; path: string };
    expect(b).toMatchObject({ profanity: true, received_bytes: Buffer.byteLength(body), path: '/analyze' });
    const seen = up.received[before]!;
    expect(seen.body.equals(Buffer.from(body))).toBe(true);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['x-auth-token']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(new URL(h.url).host);
    expect(seen.headers['content-type']).toBe('application/json');
  });

  test('/proxy/<name>/<rest>?query goes to url/<rest>?query; GET works', async () => {
    const path = '/proxy/analyze/v2/batch?lang=ko&x=1';
    const token = await signRequest(SEED_KEY, 'GET', path, '');
    const r = await fetch(`${h.url}${path}`, { headers: { Authorization: `Bearer ${SEED_KEY}`, 'X-Auth-Token': token } });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { path: string }).path).toBe('/analyze/v2/batch?lang=ko&x=1');
  });

  test('an upstream without require_signature needs only the key', async () => {
    const r = await fetch(`${h.url}/proxy/open`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}` }, body: '{"text":"hi"}' });
    expect(r.status).toBe(200);
  });

  test('a large response is streamed, not buffered: the first bytes arrive before the upstream has finished', async () => {
    const first = await new Promise<{ bytes: number; total: Promise<number> }>((resolve, reject) => {
      const req = request(`${h.url}/proxy/big/stream`, { headers: { Authorization: `Bearer ${SEED_KEY}` } }, (res) => {
        let bytes = 0;
        let resolveTotal: (n: number) => void;
        const total = new Promise<number>((r) => (resolveTotal = r));
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes >= 4 * 1024 * 1024 && up.release) {
            const release = up.release;
            up.release = undefined;
            resolve({ bytes, total });
            release();
          }
        });
        res.on('end', () => resolveTotal(bytes));
      });
      req.on('error', reject);
      req.end();
    });
    expect(first.bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(first.bytes).toBeLessThan(8 * 1024 * 1024);
    expect(await first.total).toBe(8 * 1024 * 1024);
  });
});

describe('rejections (401 with the failed check named)', () => {
  test('missing, unknown and revoked keys', async () => {
    expect(await err(await fetch(`${h.url}/proxy/open`, { method: 'POST', body: 'x' }))).toMatchObject({ error: 'missing_api_key' });
    const unknown = await fetch(`${h.url}/proxy/open`, { method: 'POST', headers: { Authorization: 'Bearer not-a-key' }, body: 'x' });
    expect(unknown.status).toBe(401);
    expect((await err(unknown)).error).toBe('unknown_api_key');
  });

  test('signature checks', async () => {
    const body = '{"text":"안녕"}';
    const cases: [string, Promise<Response>, string][] = [
      ['no X-Auth-Token', fetch(`${h.url}/proxy/analyze`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}` }, body }), 'missing_signature'],
      ['signed with another key', (async () => fetch(`${h.url}/proxy/analyze`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}`, 'X-Auth-Token': await signRequest('some-other-key-0123456789', 'POST', '/proxy/analyze', body) }, body }))(), 'bad_signature'],
      ['HS512 instead of HS256', signedPost('/proxy/analyze', body, SEED_KEY, { alg: 'HS512' }), 'bad_signature'],
      ['a different body', signedPost('/proxy/analyze', body, SEED_KEY, { body: '{"text":"different"}' }), 'body_hash_mismatch'],
      ['another method', signedPost('/proxy/analyze', body, SEED_KEY, { method: 'PUT' }), 'method_mismatch'],
      ['another path', signedPost('/proxy/analyze', body, SEED_KEY, { path: '/proxy/analyze?admin=1' }), 'path_mismatch'],
      ['iat 301 s old', signedPost('/proxy/analyze', body, SEED_KEY, { iat: Math.floor(Date.now() / 1000) - 301 }), 'stale'],
      ['iat 10 minutes ahead', signedPost('/proxy/analyze', body, SEED_KEY, { iat: Math.floor(Date.now() / 1000) + 600 }), 'stale'],
    ];
    for (const [name, call, reason] of cases) {
      const r = await call;
      const e = await err(r);
      expect([name, r.status, e.error]).toEqual([name, 401, reason]);
      expect(e.error_description).not.toContain(SEED_KEY);
    }
  });

  test('a replayed token is refused', async () => {
    const body = '{"text":"again"}';
    const token = await signRequest(SEED_KEY, 'POST', '/proxy/analyze', body);
    const send = () => fetch(`${h.url}/proxy/analyze`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}`, 'X-Auth-Token': token }, body });
    expect((await send()).status).toBe(200);
    const again = await send();
    expect(again.status).toBe(401);
    expect((await err(again)).error).toBe('replayed');
  });

  test('413 over the body limit (declared or streamed), 502 unreachable, 504 timeout, 404 unknown upstream, 400 traversal', async () => {
    const big = 'x'.repeat(5000);
    const declared = await signedPost('/proxy/analyze', big);
    expect(declared.status).toBe(413);
    expect((await err(declared)).error).toBe('body_too_large');
    const chunked = await fetch(`${h.url}/proxy/analyze`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${SEED_KEY}` },
      body: new ReadableStream({ start(c) { for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('y'.repeat(1000))); c.close(); } }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
    const dead = await fetch(`${h.url}/proxy/dead`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}` }, body: '{}' });
    expect(dead.status).toBe(502);
    expect((await err(dead)).error).toBe('upstream_unreachable');
    const slow = await signedPost('/proxy/analyze/slow', '{}');
    expect(slow.status).toBe(504);
    expect((await err(slow)).error).toBe('upstream_timeout');
    const none = await fetch(`${h.url}/proxy/nope`, { method: 'POST', headers: { Authorization: `Bearer ${SEED_KEY}` }, body: '{}' });
    expect(none.status).toBe(404);
    const traversal = await fetch(`${h.url}/proxy/open/..%2f..%2fadmin`, { headers: { Authorization: `Bearer ${SEED_KEY}` } });
    expect(traversal.status).toBe(400);
    expect((await err(traversal)).error).toBe('invalid_path');
  });
});

describe('keys on the admin listener', () => {
  test('create shows the key once; list never shows it; revocation is immediate; nothing plain on disk', async () => {
    const created = await admin('/api/keys', { method: 'POST', body: JSON.stringify({ name: 'tablet', upstreams: ['open'] }) });
    expect(created.status).toBe(201);
    const c = (await created.json()) as { name: string; key: string; status: string; upstreams: string[] };
    expect(c).toMatchObject({ name: 'tablet', status: 'ACTIVE', upstreams: ['open'], key: expect.stringMatching(/^cdk_[A-Za-z0-9_-]{43}$/) });
    const list = await (await admin('/api/keys')).text();
    expect(list).not.toContain(c.key);
    expect(list).not.toContain(SEED_KEY);
    expect(JSON.parse(list).keys.map((k: { name: string; status: string; source: string }) => [k.name, k.status, k.source])).toEqual([['ingestor', 'ACTIVE', 'config'], ['tablet', 'ACTIVE', 'admin']]);
    const disk = readFileSync(join(h.config.data_dir, 'api-keys.json'), 'utf8');
    expect(disk).not.toContain(c.key);
    expect(disk).not.toContain(SEED_KEY);

    const use = (path: string) => fetch(`${h.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${c.key}` }, body: '{"text":"ok"}' });
    expect((await use('/proxy/open')).status).toBe(200);
    const other = await use('/proxy/dead');
    expect(other.status).toBe(403);
    expect((await err(other)).error).toBe('upstream_not_allowed');

    expect((await admin('/api/keys/tablet/revoke', { method: 'POST' })).status).toBe(200);
    const revoked = await use('/proxy/open');
    expect(revoked.status).toBe(401);
    expect((await err(revoked)).error).toBe('revoked_api_key');
    const listed = (await (await admin('/api/keys')).json()) as { keys: { name: string; status: string; last_used: string | null }[] };
    expect(listed.keys.find((k) => k.name === 'tablet')).toMatchObject({ status: 'REVOKED', last_used: expect.any(String) });
  });

  test('bad requests', async () => {
    const cases: [string, string, number][] = [
      ['malformed JSON', '{"name":', 400],
      ['name with a space', JSON.stringify({ name: 'a b' }), 400],
      ['name as a number', JSON.stringify({ name: 5 }), 400],
      ['unknown upstream', JSON.stringify({ name: 'k2', upstreams: ['nowhere'] }), 400],
      ['unknown field', JSON.stringify({ name: 'k3', key: 'chosen-by-client' }), 400],
      ['duplicate name', JSON.stringify({ name: 'ingestor' }), 409],
    ];
    for (const [n, body, status] of cases) {
      const r = await admin('/api/keys', { method: 'POST', body });
      expect([n, r.status]).toEqual([n, status]);
    }
    expect((await admin('/api/keys/nobody/revoke', { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${h.adminUrl}/api/keys`)).status).toBe(401);
  });
});

describe('usage', () => {
  test('totals per key match the bytes actually sent and received; per upstream and per day too', async () => {
    const g = await startGateway({
      API_KEYS_JSON: JSON.stringify({ alpha: 'alpha-key-0123456789abc', beta: 'beta-key-0123456789abcd' }),
      PROXY_UPSTREAMS_JSON: JSON.stringify({ a: { url: `${up.url}/a`, require_signature: false }, b: { url: `${up.url}/b`, require_signature: false }, gone: { url: `http://127.0.0.1:${deadPort}/`, require_signature: false } }),
    });
    try {
      const sent = { alpha: 0, beta: 0 };
      const got = { alpha: 0, beta: 0 };
      const go = async (who: 'alpha' | 'beta', upstream: string, body: string) => {
        const r = await fetch(`${g.url}/proxy/${upstream}`, { method: 'POST', headers: { Authorization: `Bearer ${who}-key-0123456789ab${who === 'alpha' ? 'c' : 'cd'}` }, body });
        const text = await r.arrayBuffer();
        sent[who] += Buffer.byteLength(body);
        got[who] += text.byteLength;
        return r.status;
      };
      for (let i = 0; i < 5; i++) expect(await go('alpha', 'a', `{"text":"${'x'.repeat(i * 10)}"}`)).toBe(200);
      expect(await go('alpha', 'b', '{"text":"바보"}')).toBe(200);
      expect(await go('beta', 'gone', '{}')).toBe(502);
      expect(await go('beta', 'a', '{"text":"idiot"}')).toBe(200);
      const u = await waitFor(async () => {
        const r = (await (await fetch(`${g.adminUrl}/api/usage?since=2020-01-01`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { keys: { key: string; requests: number; errors: number; request_bytes: number; response_bytes: number }[]; by_upstream: { key: string; upstream: string; requests: number }[]; by_day: { day: string }[] };
        return r.keys.reduce((n, k) => n + k.requests, 0) === 8 ? r : undefined;
      }, 5000, 'usage records');
      expect(u.keys).toEqual([
        { key: 'alpha', requests: 6, errors: 0, request_bytes: sent.alpha, response_bytes: got.alpha },
        { key: 'beta', requests: 2, errors: 1, request_bytes: sent.beta, response_bytes: got.beta },
      ]);
      expect(u.by_upstream.map((x) => [x.key, x.upstream, x.requests])).toEqual([['alpha', 'a', 5], ['alpha', 'b', 1], ['beta', 'a', 1], ['beta', 'gone', 1]]);
      expect(u.by_day.map((x) => x.day)).toEqual([new Date().toISOString().slice(0, 10), new Date().toISOString().slice(0, 10)]);
      const none = (await (await fetch(`${g.adminUrl}/api/usage?until=2020-01-01T00:00:00Z`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { keys: unknown[] };
      expect(none.keys).toEqual([]);
      expect((await fetch(`${g.adminUrl}/api/usage?since=last-week`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(400);
    } finally {
      await g.close();
    }
  });
});
