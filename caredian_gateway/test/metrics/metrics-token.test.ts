// metrics_token: a Prometheus server's bearer token. It opens GET /metrics on the admin listener,
// in both modes, and nothing else; a real gateway over loopback.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createAdminApp } from '../../src/admin/admin-app.js';
import { ConfigError, loadConfig, SECRET_KEYS } from '../../src/config/load.js';
import { FIELDS } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/logger.js';
import { MetricsModule } from '../../src/metrics/metrics-module.js';
import { ADMIN_TOKEN, LogSink, startGateway, type Harness } from '../support/harness.js';
import { parseExposition } from './exposition.js';

const METRICS_TOKEN = 'scrape-only-token-0123456789abcdef';
const WRONG = ['', 'Bearer ', 'Bearer nope', `Bearer ${METRICS_TOKEN}x`, `Bearer ${METRICS_TOKEN.slice(0, -1)}`, `bearer ${METRICS_TOKEN}`, METRICS_TOKEN, `Basic ${Buffer.from(`prometheus:${METRICS_TOKEN}`).toString('base64')}`, `Bearer  ${METRICS_TOKEN}`];

let h: Harness;
beforeAll(async () => {
  h = await startGateway({ METRICS_TOKEN, LOG_LEVEL: 'debug' });
});
afterAll(() => h.close());

const get = (base: string, path: string, auth?: string, method = 'GET') => fetch(`${base}${path}`, { method, headers: auth ? { Authorization: auth } : {} });

describe('standalone', () => {
  test('the metrics token reads /metrics, as the admin token does', async () => {
    for (const auth of [`Bearer ${METRICS_TOKEN}`, `Bearer ${ADMIN_TOKEN}`]) {
      const r = await get(h.adminUrl, '/metrics', auth);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const m = parseExposition(await r.text());
      expect(m.has('caredian_ingest_requests_total')).toBe(true);
    }
  });

  test('a missing or wrong token: 401 with a Bearer challenge and no metrics', async () => {
    for (const auth of [undefined, ...WRONG]) {
      const r = await get(h.adminUrl, '/metrics', auth);
      expect([auth, r.status]).toEqual([auth, 401]);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="caredian-admin"');
      expect(await r.text()).not.toMatch(/caredian_|process_cpu/);
    }
  });

  test('opens no other admin route, and nothing on the device port', async () => {
    const auth = `Bearer ${METRICS_TOKEN}`;
    for (const path of ['/api/status', '/api/falls', '/api/devices', '/api/events', '/api/people', '/api/keys', '/api/stream', '/api/usage']) {
      const r = await get(h.adminUrl, path, auth);
      expect([path, r.status]).toEqual([path, 401]);
      await r.text();
    }
    for (const path of ['/api/test-alert', '/api/signing-keys/rotate', '/api/keys']) {
      const r = await get(h.adminUrl, path, auth, 'POST');
      expect([path, r.status]).toEqual([path, 401]);
      await r.text();
    }
    // The admin token still opens them (the route exists; the metrics token alone was refused).
    expect((await get(h.adminUrl, '/api/status', `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    const fall = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: auth }, body: JSON.stringify({ device_id: 'm-1', event: 'fall', prob: 0.9 }) });
    expect(fall.status).toBe(401);
    expect((await get(h.url, '/metrics', auth)).status).toBe(404);
  });
});

describe('add-on mode', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // The gateway's own /metrics route behind an add-on-mode admin app, reached from 127.0.0.1: not the ingress proxy.
    const app = createAdminApp({ log: createLogger({ level: 'silent', json: true }, new LogSink()), mode: 'addon', adminToken: ADMIN_TOKEN, metricsToken: METRICS_TOKEN, status: () => ({ secret: 'status' }), routers: [], rootRoutes: h.gw.module(MetricsModule)!.adminRootRoutes() });
    server = await new Promise<Server>((r) => {
      const s = app.listen(0, '127.0.0.1', () => r(s));
    });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  test('the metrics token reads /metrics from outside ingress', async () => {
    const r = await get(base, '/metrics', `Bearer ${METRICS_TOKEN}`);
    expect(r.status).toBe(200);
    expect(parseExposition(await r.text()).has('process_cpu_seconds_total')).toBe(true);
  });

  test('without it, or with the admin token or a wrong one: 401, asking for the metrics token', async () => {
    for (const auth of [undefined, `Bearer ${ADMIN_TOKEN}`, ...WRONG]) {
      const r = await get(base, '/metrics', auth);
      expect([auth, r.status]).toEqual([auth, 401]);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="caredian-admin"');
      const body = await r.text();
      expect(body).toMatch(/metrics_token/);
      expect(body).not.toMatch(/caredian_ingest|process_cpu/);
    }
  });

  test('the rest of the admin listener stays ingress-only', async () => {
    for (const path of ['/api/status', '/', '/status.js']) {
      const r = await get(base, path, `Bearer ${METRICS_TOKEN}`);
      expect([path, r.status]).toEqual([path, 403]);
      expect(await r.text()).not.toMatch(/secret/);
    }
  });
});

describe('the option', () => {
  const write = (o: Record<string, unknown>) => {
    const p = join(mkdtempSync(join(tmpdir(), 'metrics-token-')), 'options.json');
    writeFileSync(p, JSON.stringify(o));
    return p;
  };

  test('an add-on option and METRICS_TOKEN; a secret; blank is unset', () => {
    expect(FIELDS.metrics_token).toMatchObject({ env: ['METRICS_TOKEN'], addon: true, secret: true });
    expect(SECRET_KEYS).toContain('metrics_token');
    expect(loadConfig({ env: {}, optionsPath: write({ metrics_token: METRICS_TOKEN }) })).toMatchObject({ mode: 'addon', metrics_token: METRICS_TOKEN });
    expect(loadConfig({ env: { METRICS_TOKEN }, optionsPath: '/nonexistent/options.json' }).metrics_token).toBe(METRICS_TOKEN);
    expect(loadConfig({ env: {}, optionsPath: write({ metrics_token: '' }) }).metrics_token).toBeUndefined();
    expect(loadConfig({ env: {}, optionsPath: '/nonexistent/options.json' }).metrics_token).toBeUndefined();
  });

  test('too short or not a string: refused, without printing the value', () => {
    for (const bad of ['short-token-123', 12345678901234567890, ['a-long-enough-token-in-a-list']]) {
      let err: unknown;
      try {
        loadConfig({ env: {}, optionsPath: write({ metrics_token: bad }) });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const text = String((err as Error).message) + JSON.stringify(err);
      expect(text).toMatch(/metrics_token|METRICS_TOKEN|Metrics token/);
      expect(text).not.toContain(String(bad));
    }
    expect(() => loadConfig({ env: { METRICS_TOKEN: 'short-token-123' }, optionsPath: '/nonexistent/options.json' })).toThrow(ConfigError);
  });
});

test('the token is never logged (requests with it, right and wrong, at debug level)', async () => {
  await (await get(h.adminUrl, '/metrics', `Bearer ${METRICS_TOKEN}`)).text();
  await (await get(h.adminUrl, '/api/status', `Bearer ${METRICS_TOKEN}`)).text();
  await (await get(h.adminUrl, '/metrics', `Bearer ${METRICS_TOKEN}x`)).text();
  expect(h.logs.lines.length).toBeGreaterThan(0);
  expect(h.logs.text).toMatch(/"url":"\/metrics"/);
  expect(h.logs.text).not.toContain(METRICS_TOKEN);
  expect(h.logs.text).not.toContain(METRICS_TOKEN.slice(0, 16));
});
