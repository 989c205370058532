// /proxy/<name>/<rest> stays under the upstream's base path: traversal in any spelling (encoded
// once or twice, backslashes, encoded slashes, control characters) is a 400 and never forwarded.
import { startGateway, type Harness } from '../support/harness.js';
import { signRequest } from '../support/sign.js';
import { RecordingUpstream, rawRequest } from './recording-upstream.js';

const KEY = 'path-test-key-0123456789abc';
let h: Harness;
let up: RecordingUpstream;

beforeAll(async () => {
  up = new RecordingUpstream();
  await up.start();
  h = await startGateway({
    API_KEYS_JSON: JSON.stringify({ tester: KEY }),
    PROXY_UPSTREAMS_JSON: JSON.stringify({
      open: { url: `${up.url}/base/open`, require_signature: false },
      signed: { url: `${up.url}/base/signed` },
    }),
  });
});
afterAll(async () => {
  await h.close();
  await up.stop();
});

const auth = { Authorization: `Bearer ${KEY}` };

const ATTACKS = [
  // The tester's findings, as reproduced.
  '/proxy/open/.%2e/secret',
  '/proxy/open/%2e./secret',
  '/proxy/open/..\\secret',
  // Other single-encoded spellings.
  '/proxy/open/%2e%2e/secret',
  '/proxy/open/%2E%2E/secret',
  '/proxy/open/..%2fsecret',
  '/proxy/open/..%2Fsecret',
  '/proxy/open/..%5csecret',
  '/proxy/open/%2e%2e%5csecret',
  '/proxy/open/a/..%2f..%2fsecret',
  // Double-encoded (%25 is "%"): harmless to an upstream that decodes once, not to one that decodes twice.
  '/proxy/open/%252e%252e/secret',
  '/proxy/open/.%252e/secret',
  '/proxy/open/%252e./secret',
  '/proxy/open/..%252fsecret',
  '/proxy/open/..%255csecret',
  '/proxy/open/%25%32%65%25%32%65/secret',
  '/proxy/open/%25252e%25252e/secret',
  // Plain dot segments, Tomcat-style path parameters, overlong UTF-8 for ".".
  '/proxy/open/../secret',
  '/proxy/open/a/../../secret',
  '/proxy/open/./secret',
  '/proxy/open/..;/secret',
  '/proxy/open/%c0%ae%c0%ae/secret',
  // Control characters (NUL, CR LF header injection), once or twice encoded; malformed escapes.
  '/proxy/open/secret%00.json',
  '/proxy/open/secret%2500.json',
  '/proxy/open/x%0d%0aX-Injected:%20yes',
  '/proxy/open/x%250d%250aX-Injected:%20yes',
  '/proxy/open/%%32%65%%32%65/secret',
  '/proxy/open/a%zz',
];

describe('path escapes are refused with 400 invalid_path and never reach the upstream', () => {
  test.each(ATTACKS)('%s', async (path) => {
    const before = up.received.length;
    const r = await rawRequest(h.url, path, { headers: auth });
    expect([r.status, r.headers['content-type']]).toEqual([400, 'application/json; charset=utf-8']);
    expect(JSON.parse(r.text)).toMatchObject({ ok: false, error: 'invalid_path', error_description: expect.any(String) });
    expect(up.received.length).toBe(before);
  });

  test('a valid signature over an escaping path does not make it acceptable', async () => {
    const before = up.received.length;
    for (const path of ['/proxy/signed/.%2e/secret', '/proxy/signed/%252e%252e/secret', '/proxy/signed/..\\secret']) {
      const body = '{"text":"x"}';
      const token = await signRequest(KEY, 'POST', path, body);
      const r = await rawRequest(h.url, path, { method: 'POST', headers: { ...auth, 'X-Auth-Token': token, 'Content-Type': 'application/json' }, body });
      expect([path, r.status, JSON.parse(r.text).error]).toEqual([path, 400, 'invalid_path']);
    }
    expect(up.received.length).toBe(before);
  });

  test('the gateway keeps serving after a burst of bad paths', async () => {
    await Promise.all(ATTACKS.map((p) => rawRequest(h.url, p, { headers: auth })));
    const r = await rawRequest(h.url, '/proxy/open/still/here', { headers: auth });
    expect(r.status).toBe(200);
  });
});

describe('legitimate paths are forwarded byte for byte under the base path', () => {
  const cases: [string, string][] = [
    ['/proxy/open', '/base/open'],
    ['/proxy/open/', '/base/open/'],
    ['/proxy/open/v1/models', '/base/open/v1/models'],
    // Encoded characters that are not traversal: kept as sent, not decoded or re-encoded.
    ['/proxy/open/files/caf%C3%A9%20menu.txt', '/base/open/files/caf%C3%A9%20menu.txt'],
    ['/proxy/open/files/report%2Ejson', '/base/open/files/report%2Ejson'],
    ['/proxy/open/discount/100%25', '/base/open/discount/100%25'],
    ['/proxy/open/files/...hidden/..data', '/base/open/files/...hidden/..data'],
    // The query is not a path: dots and encoded slashes there are the upstream's business.
    ['/proxy/open/search?q=..%2F..%2Fetc&lang=ko', '/base/open/search?q=..%2F..%2Fetc&lang=ko'],
  ];
  test.each(cases)('%s -> %s', async (path, expected) => {
    const before = up.received.length;
    const r = await rawRequest(h.url, path, { headers: auth });
    expect(r.status).toBe(200);
    expect(up.received.length).toBe(before + 1);
    expect(up.received.at(-1)!.url).toBe(expected);
  });

  test('a signed request with an encoded character: what was signed is what is forwarded', async () => {
    const path = '/proxy/signed/docs/caf%C3%A9%20menu?lang=ko';
    const body = '{"text":"안녕"}';
    const token = await signRequest(KEY, 'POST', path, body);
    const r = await rawRequest(h.url, path, { method: 'POST', headers: { ...auth, 'X-Auth-Token': token, 'Content-Type': 'application/json' }, body });
    expect(r.status).toBe(200);
    expect(up.received.at(-1)!.url).toBe('/base/signed/docs/caf%C3%A9%20menu?lang=ko');
    // A signature over the decoded spelling does not cover the encoded one.
    const decoded = await signRequest(KEY, 'POST', '/proxy/signed/docs/café menu?lang=ko', body);
    const r2 = await rawRequest(h.url, path, { method: 'POST', headers: { ...auth, 'X-Auth-Token': decoded, 'Content-Type': 'application/json' }, body });
    expect([r2.status, JSON.parse(r2.text).error]).toEqual([401, 'path_mismatch']);
  });
});
