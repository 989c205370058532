import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { makePki, type TestPki } from '../support/certs.js';
import { startGateway } from '../support/harness.js';
import { closedWithin, openSocket } from './raw-http.js';

let pki: TestPki;
beforeAll(() => {
  pki = makePki();
});

/** One HTTPS request with explicit TLS options; resolves the status or rejects with the TLS error. */
function get(url: string, o: { ca: string; cert?: string; key?: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: readFileSync(o.ca), cert: o.cert ? readFileSync(o.cert) : undefined, key: o.key ? readFileSync(o.key) : undefined, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

test('TLS on the device port with TLS_CERT/TLS_KEY', async () => {
  const h = await startGateway({ TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey });
  try {
    expect(h.url.startsWith('https://')).toBe(true);
    expect(await get(`${h.url}/health`, { ca: pki.ca })).toBe(200);
    // Plain HTTP to the TLS port does not get a response.
    await expect(fetch(h.url.replace('https', 'http') + '/health')).rejects.toThrow();
  } finally {
    await h.close();
  }
});

test('mTLS: only clients with a certificate from TLS_CA can connect', async () => {
  const h = await startGateway({ TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey, TLS_CA: pki.ca, TLS_REQUIRE_CLIENT_CERT: 'true' });
  try {
    expect(await get(`${h.url}/health`, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).toBe(200);
    await expect(get(`${h.url}/health`, { ca: pki.ca })).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET|alert/i);
    await expect(get(`${h.url}/health`, { ca: pki.ca, cert: pki.rogueCert, key: pki.rogueKey })).rejects.toThrow(/certificate|handshake|socket hang up|ECONNRESET|alert|unknown ca/i);
    // The admin listener is unaffected (ingress talks plain HTTP inside the host).
    expect((await fetch(`${h.adminUrl}/health`)).status).toBe(200);
  } finally {
    await h.close();
  }
});

test('TLS settings are checked at start-up', async () => {
  await expect(startGateway({ TLS_CERT: pki.serverCert })).rejects.toThrow(/TLS_CERT\/TLS_KEY: set both or neither/);
  await expect(startGateway({ TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey, TLS_REQUIRE_CLIENT_CERT: 'true' })).rejects.toThrow(/needs TLS_CA/);
});

test('with TLS, the per-address cap refuses raw connections past it and HTTPS clients are still served', async () => {
  const h = await startGateway({ TLS_CERT: pki.serverCert, TLS_KEY: pki.serverKey, MAX_CONNECTIONS_PER_ADDRESS: '2' });
  const port = Number(new URL(h.url).port);
  const sockets = [];
  try {
    for (let i = 0; i < 10; i++) sockets.push(await openSocket(port, '127.0.0.7'));
    const closed = await Promise.all(sockets.map((s) => closedWithin(s, 1500)));
    expect(closed.filter((c) => c === null)).toHaveLength(2);
    expect(await get(`${h.url}/health`, { ca: pki.ca })).toBe(200);
  } finally {
    sockets.forEach((s) => s.destroy());
    await h.close();
  }
});
