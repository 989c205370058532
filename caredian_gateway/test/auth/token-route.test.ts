import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { CLIENT_ID, CLIENT_SECRET, startGateway, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startGateway({}, { tokenRoute: { failuresPerIp: 1000, failuresPerClientIp: 1000 } });
});
afterAll(() => h.close());

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = (o: Record<string, string>) => new URLSearchParams(o);
const post = (body: BodyInit | undefined, headers: Record<string, string> = {}) => fetch(`${h.url}/auth/cc/token`, { method: 'POST', body, headers });

describe('POST /auth/cc/token success', () => {
  test('HTTP Basic + form (RFC 6749 §4.4): an RS256 at+jwt verifiable against the JWKS', async () => {
    const r = await post(form({ grant_type: 'client_credentials', scope: 'events:fall:ingest' }), { Authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const b = (await r.json()) as Record<string, unknown>;
    expect(b).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 43200, scope: 'events:fall:ingest' });
    const header = decodeProtectedHeader(b.access_token as string);
    expect(header).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: expect.any(String) });
    const jwks = createRemoteJWKSet(new URL(`${h.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(b.access_token as string, jwks, { issuer: 'urn:caredian:gw', audience: 'caredian-gw', typ: 'at+jwt', algorithms: ['RS256'] });
    expect(payload).toMatchObject({ sub: CLIENT_ID, client_id: CLIENT_ID, scope: 'events:fall:ingest', jti: expect.any(String) });
    expect(payload.exp! - payload.iat!).toBe(43200);
  });

  test("the seed's JSON body", async () => {
    const r = await post(JSON.stringify({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, scope: 'events:fall:ingest' }), { 'Content-Type': 'application/json' });
    expect(r.status).toBe(200);
    const b = (await r.json()) as { access_token: string; scope: string };
    expect(b.scope).toBe('events:fall:ingest');
    const jwks = createRemoteJWKSet(new URL(`${h.url}/.well-known/jwks.json`));
    await expect(jwtVerify(b.access_token, jwks, { issuer: 'urn:caredian:gw', audience: 'caredian-gw' })).resolves.toBeDefined();
  });

  test('client_secret_post in a form body, and no scope means every allowed scope', async () => {
    const r = await post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }));
    expect(r.status).toBe(200);
    expect(((await r.json()) as { scope: string }).scope).toBe('events:fall:ingest events:imu:ingest devices:write');
  });

  test('Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1)', async () => {
    const r = await post(form({ grant_type: 'client_credentials' }), { Authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(CLIENT_SECRET)}`).toString('base64')}` });
    expect(r.status).toBe(200);
  });

  test('metadata (RFC 8414) points at the token endpoint and JWKS', async () => {
    const m = (await (await fetch(`${h.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    expect(m).toMatchObject({ issuer: 'urn:caredian:gw', token_endpoint: `${h.url}/auth/cc/token`, jwks_uri: `${h.url}/.well-known/jwks.json`, grant_types_supported: ['client_credentials'] });
  });
});

describe('POST /auth/cc/token errors (RFC 6749 §5.2)', () => {
  const cases: [string, () => Promise<Response>, number, string, boolean][] = [
    ['wrong secret via Basic', () => post(form({ grant_type: 'client_credentials' }), { Authorization: basic(CLIENT_ID, 'wrong-secret-xxxxxxxx') }), 401, 'invalid_client', true],
    ['unknown client via JSON', () => post(JSON.stringify({ client_id: 'nobody', client_secret: 'x' }), { 'Content-Type': 'application/json' }), 401, 'invalid_client', false],
    ['no client authentication', () => post(form({ grant_type: 'client_credentials' })), 401, 'invalid_client', false],
    ['malformed Basic', () => post(form({ grant_type: 'client_credentials' }), { Authorization: 'Basic bm9jb2xvbg==' }), 401, 'invalid_client', true],
    ['both Basic and body secret', () => post(form({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: CLIENT_SECRET }), { Authorization: basic(CLIENT_ID, CLIENT_SECRET) }), 400, 'invalid_request', false],
    ['form without grant_type', () => post(form({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET })), 400, 'invalid_request', false],
    ['other grant type', () => post(form({ grant_type: 'password', client_id: CLIENT_ID, client_secret: CLIENT_SECRET })), 400, 'unsupported_grant_type', false],
    ['scope the client may not have', () => post(form({ grant_type: 'client_credentials', scope: 'events:fall:ingest admin' }), { Authorization: basic(CLIENT_ID, CLIENT_SECRET) }), 400, 'invalid_scope', false],
    ['scope beyond a restricted client', () => post(form({ grant_type: 'client_credentials', scope: 'devices:write' }), { Authorization: basic('sensor-fall-only', 'another-long-secret-1') }), 400, 'invalid_scope', false],
    ['text/plain body', () => post('grant_type=client_credentials', { 'Content-Type': 'text/plain', Authorization: basic(CLIENT_ID, CLIENT_SECRET) }), 400, 'invalid_request', false],
    ['malformed JSON', () => post('{"client_id": ', { 'Content-Type': 'application/json' }), 400, 'invalid_request', false],
    ['JSON array body', () => post('[1,2]', { 'Content-Type': 'application/json' }), 400, 'invalid_request', false],
    ['wrong types in JSON', () => post(JSON.stringify({ client_id: 5, client_secret: ['a'] }), { 'Content-Type': 'application/json' }), 400, 'invalid_request', false],
    ['repeated form parameter', () => post('grant_type=client_credentials&scope=a&scope=b', { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(CLIENT_ID, CLIENT_SECRET) }), 400, 'invalid_request', false],
  ];
  test.each(cases)('%s', async (_name, call, status, error, basicChallenge) => {
    const r = await call();
    expect(r.status).toBe(status);
    expect(r.headers.get('cache-control')).toBe('no-store');
    const b = (await r.json()) as { error: string; error_description: string };
    expect(b.error).toBe(error);
    expect(typeof b.error_description).toBe('string');
    if (basicChallenge) expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="caredian"/);
    else if (status === 401) expect(r.headers.get('www-authenticate')).toBeNull();
  });

  test('an oversized body is refused with 413 JSON', async () => {
    const r = await post(form({ grant_type: 'client_credentials', scope: 'x'.repeat(20_000) }), { Authorization: basic(CLIENT_ID, CLIENT_SECRET) });
    expect(r.status).toBe(413);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(((await r.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('failed attempts are rate-limited', () => {
  test('per client and address, then 429 with Retry-After; the right secret is also refused while limited', async () => {
    const g = await startGateway({}, { tokenRoute: { failuresPerClientIp: 3, failuresPerIp: 100 } });
    try {
      const attempt = (secret: string) => fetch(`${g.url}/auth/cc/token`, { method: 'POST', body: form({ grant_type: 'client_credentials' }), headers: { Authorization: basic(CLIENT_ID, secret) } });
      // Successes do not count.
      for (let i = 0; i < 4; i++) expect((await attempt(CLIENT_SECRET)).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await attempt('wrong-wrong-wrong-wrong')).status).toBe(401);
      const limited = await attempt('wrong-wrong-wrong-wrong');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await attempt(CLIENT_SECRET)).status).toBe(429);
      // Another client is unaffected.
      const other = await fetch(`${g.url}/auth/cc/token`, { method: 'POST', body: form({ grant_type: 'client_credentials' }), headers: { Authorization: basic('sensor-fall-only', 'another-long-secret-1') } });
      expect(other.status).toBe(200);
    } finally {
      await g.close();
    }
  });

  test('per address', async () => {
    const g = await startGateway({}, { tokenRoute: { failuresPerClientIp: 100, failuresPerIp: 2 } });
    try {
      const attempt = (id: string) => fetch(`${g.url}/auth/cc/token`, { method: 'POST', body: form({ grant_type: 'client_credentials' }), headers: { Authorization: basic(id, 'wrong-wrong-wrong-wrong') } });
      expect((await attempt('a1')).status).toBe(401);
      expect((await attempt('a2')).status).toBe(401);
      expect((await attempt('a3')).status).toBe(429);
    } finally {
      await g.close();
    }
  });
});
