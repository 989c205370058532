import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, decodeProtectedHeader, importPKCS8, type JWTPayload } from 'jose';
import { startGateway, type Harness } from '../support/harness.js';

let h: Harness;
let good: string;
let kid: string;
let realKey: CryptoKey;
let publicPem: string;

beforeAll(async () => {
  h = await startGateway();
  good = await h.token('events:fall:ingest');
  kid = decodeProtectedHeader(good).kid!;
  const dir = join(h.config.data_dir, 'keys');
  realKey = await importPKCS8(readFileSync(join(dir, `${kid}.pem`), 'utf8'), 'RS256');
  publicPem = readFileSync(join(dir, `${kid}.pub.pem`), 'utf8');
});
afterAll(() => h.close());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const claims = (over: JWTPayload = {}): JWTPayload => ({ iss: 'urn:caredian:gw', aud: 'caredian-gw', sub: 'esp32-01', client_id: 'esp32-01', scope: 'events:fall:ingest', iat: now(), exp: now() + 600, jti: 'j1', ...over });
const sign = (c: JWTPayload, key: CryptoKey | Uint8Array = realKey, header: Record<string, unknown> = { alg: 'RS256', typ: 'at+jwt', kid }) =>
  new SignJWT(c).setProtectedHeader(header as { alg: string }).sign(key);

const event = { device_id: 'esp32-01', location: 'living_room', event: 'fall', prob: 0.9 };
const send = (auth?: string) =>
  fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(auth ? { Authorization: auth } : {}) }, body: JSON.stringify(event) });

async function expectRejected(token: string, why: RegExp) {
  const before = h.gw.store.lastCommittedSeq;
  const r = await send(`Bearer ${token}`);
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="caredian", error="invalid_token"/);
  const b = (await r.json()) as { error: string; error_description: string };
  expect(b.error).toBe('invalid_token');
  expect(b.error_description).toMatch(why);
  expect(h.gw.store.lastCommittedSeq).toBe(before);
}

test('a genuine token is accepted', async () => {
  const r = await send(`Bearer ${good}`);
  expect(r.status).toBe(200);
});

test('no token: 401 with a bare Bearer challenge (RFC 6750 §3.1)', async () => {
  const r = await send();
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('Bearer realm="caredian"');
});

test('malformed Authorization header: 400 invalid_request', async () => {
  for (const a of ['Bearer', 'Bearer a b', `Token ${good}`, `Bearer ${good}"`]) {
    const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: a }, body: '{}' });
    expect(r.status).toBe(400);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer realm="caredian", error="invalid_request"/);
    expect(((await r.json()) as { error: string }).error).toBe('invalid_request');
  }
});

test('alg "none" is rejected', async () => {
  await expectRejected(`${b64({ alg: 'none', typ: 'at+jwt', kid })}.${b64(claims())}.`, /algorithm|malformed|invalid/);
});

test('HS256 signed with the public key as the HMAC secret is rejected', async () => {
  const t = await sign(claims(), new TextEncoder().encode(publicPem), { alg: 'HS256', typ: 'at+jwt', kid });
  await expectRejected(t, /algorithm not allowed/);
});

test('a token signed by another key under the same kid is rejected', async () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const other = await importPKCS8(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'RS256');
  await expectRejected(await sign(claims(), other), /signature/);
});

test('a tampered payload is rejected', async () => {
  const [hd, , sig] = good.split('.');
  await expectRejected(`${hd}.${b64(claims({ scope: 'events:fall:ingest devices:write', sub: 'someone-else' }))}.${sig}`, /signature/);
});

test('expired, wrong audience, wrong issuer, wrong typ are rejected', async () => {
  await expectRejected(await sign(claims({ iat: now() - 7200, exp: now() - 3600 })), /expired/);
  await expectRejected(await sign(claims({ aud: 'someone-else' })), /aud/);
  await expectRejected(await sign(claims({ iss: 'urn:evil' })), /iss/);
  await expectRejected(await sign(claims(), realKey, { alg: 'RS256', typ: 'JWT', kid }), /typ/);
  await expectRejected('not.a.jwt', /malformed|invalid/);
});

test('a small clock skew is tolerated', async () => {
  const r = await send(`Bearer ${await sign(claims({ iat: now() - 700, exp: now() - 10 }))}`);
  expect(r.status).toBe(200);
});

test('a valid token without the route scope: 403 insufficient_scope', async () => {
  const t = await h.token('devices:write');
  const r = await send(`Bearer ${t}`);
  expect(r.status).toBe(403);
  expect(r.headers.get('www-authenticate')).toBe('Bearer realm="caredian", error="insufficient_scope", scope="events:fall:ingest"');
  expect(((await r.json()) as { error: string }).error).toBe('insufficient_scope');
});
