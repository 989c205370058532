// Hop-by-hop headers — the standard set and any header the Connection field names — stop at the
// gateway in both directions; end-to-end headers pass.
import { startGateway, type Harness } from '../support/harness.js';
import { RecordingUpstream, rawRequest } from './recording-upstream.js';

const KEY = 'hop-test-key-0123456789abcd';
const STANDARD = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection'];
let h: Harness;
let up: RecordingUpstream;

beforeAll(async () => {
  up = new RecordingUpstream();
  await up.start();
  h = await startGateway({ API_KEYS_JSON: JSON.stringify({ tester: KEY }), PROXY_UPSTREAMS_JSON: JSON.stringify({ open: { url: `${up.url}/open`, require_signature: false } }) });
});
afterAll(async () => {
  await h.close();
  await up.stop();
});
afterEach(() => (up.responseHeaders = {}));

test('headers named in Connection and the standard hop-by-hop set are not forwarded upstream', async () => {
  const r = await rawRequest(h.url, '/proxy/open/v1', {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${KEY}`,
      Connection: 'close, X-Secret-Hop,  x-other-HOP ',
      'X-Secret-Hop': 'do-not-forward',
      'X-Other-Hop': 'nor-this',
      'Keep-Alive': 'timeout=5',
      TE: 'trailers',
      Trailer: 'X-Checksum',
      Upgrade: 'h2c',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      'Proxy-Authenticate': 'Basic',
      'Proxy-Connection': 'keep-alive',
      'Transfer-Encoding': 'chunked',
      'X-End-To-End': 'kept',
      'Content-Type': 'application/json',
    },
    body: '{"text":"hi"}',
  });
  expect(r.status).toBe(200);
  const seen = up.received.at(-1)!;
  expect(seen.body.toString()).toBe('{"text":"hi"}');
  expect(seen.headers['x-end-to-end']).toBe('kept');
  expect(seen.headers['content-type']).toBe('application/json');
  expect(seen.headers['x-secret-hop']).toBeUndefined();
  expect(seen.headers['x-other-hop']).toBeUndefined();
  for (const name of STANDARD.filter((n) => n !== 'connection')) expect([name, seen.headers[name]]).toEqual([name, undefined]);
  // The upstream connection is the gateway's own: its Connection field never carries the client's tokens.
  expect(String(seen.headers.connection ?? '')).not.toMatch(/secret-hop|other-hop|close/i);
});

test("headers the upstream names in its Connection field are not copied back to the client", async () => {
  up.responseHeaders = {
    Connection: 'keep-alive, X-Upstream-Hop',
    'X-Upstream-Hop': 'internal-routing',
    'Keep-Alive': 'timeout=77, max=9',
    'Proxy-Authenticate': 'Basic realm="upstream"',
    Trailer: 'X-Checksum',
    'X-Model': 'analyser-2',
  };
  const r = await rawRequest(h.url, '/proxy/open/v1', { headers: { Authorization: `Bearer ${KEY}` } });
  expect(r.status).toBe(200);
  expect(r.headers['x-model']).toBe('analyser-2');
  expect(r.headers['x-upstream-hop']).toBeUndefined();
  expect(r.headers['proxy-authenticate']).toBeUndefined();
  expect(r.headers.trailer).toBeUndefined();
  expect(String(r.headers['keep-alive'] ?? '')).not.toContain('77');
  expect(String(r.headers.connection ?? '')).not.toMatch(/upstream-hop/i);
  expect(JSON.parse(r.text)).toEqual({ url: '/open/v1' });
});
