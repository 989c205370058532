// The webhook sink against a real local HTTP receiver: the documented body and signature, outages
// of the receiver, a gateway killed with an undelivered alert, and a receiver that refuses.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { freePort } from '../../src/devtools/influxd.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { ADMIN_TOKEN, CLIENT_ID, startGateway, tempDir, waitFor } from '../support/harness.js';
import { startChildGateway } from '../support/child-gateway.js';

const SECRET = 'webhook-secret-0123456789';

interface Received {
  body: string;
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

/** A receiver on a fixed port that can be stopped and started again, answering `status`. */
class Receiver {
  got: Received[] = [];
  status = 200;
  private server?: Server;
  constructor(readonly port: number) {}
  get url(): string {
    return `http://127.0.0.1:${this.port}/hook?token=abc`;
  }
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.got.push({ body, json: JSON.parse(body) as Record<string, unknown>, headers: req.headers });
        res.statusCode = this.status;
        res.end();
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.port, '127.0.0.1', r));
  }
  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((r) => this.server!.close(r));
    this.server = undefined;
  }
  ofType(type: string): Received[] {
    return this.got.filter((g) => g.json.type === type);
  }
}

async function postFall(url: string, token: string, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await fetch(`${url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: CLIENT_ID, location: 'bathroom', event: 'fall', prob: 0.93, ...extra }) });
  expect(r.status).toBe(200);
  return ((await r.json()) as { event_id: string }).event_id;
}

const adminStatus = async (adminUrl: string) => (await (await fetch(`${adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { status: string; warnings: string[]; checks: { alerts: { failed: { sink: string; reason: string }[]; outbox: number; sinks: Record<string, { reachable: boolean; detail: string }> } } };

test('a fall with only a webhook configured reaches it with the documented body and a signature that verifies', async () => {
  const rx = new Receiver(await freePort());
  await rx.start();
  const h = await startGateway({ ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url, secret: SECRET }]) });
  try {
    const before = Date.now() / 1000;
    const id = await postFall(h.url, await h.token());
    await waitFor(() => rx.ofType('fall_detected').length === 1, 10_000, 'the webhook');
    const [g] = rx.ofType('fall_detected');
    expect(g!.json).toEqual({ type: 'fall_detected', alert_id: id, device_id: CLIENT_ID, location: 'bathroom', ts: expect.any(Number), prob: 0.93, source: 'sensor' });
    expect(g!.json.ts as number).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(g!.json.ts as number).toBeLessThan(before + 60);
    expect(g!.headers['content-type']).toBe('application/json');
    const expected = `sha256=${createHmac('sha256', SECRET).update(g!.body).digest('hex')}`;
    expect(g!.headers['x-caredian-signature']).toBe(expected);
    expect(g!.headers['x-caredian-signature']).not.toBe(`sha256=${createHmac('sha256', 'another-secret-000000').update(g!.body).digest('hex')}`);
    // Acknowledged on the admin API: the acknowledgement goes out too, naming who.
    const ack = await fetch(`${h.adminUrl}/api/falls/${id}/ack`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(ack.status).toBe(200);
    await waitFor(() => rx.ofType('fall_acknowledged').length === 1, 10_000, 'the acknowledgement');
    expect(rx.ofType('fall_acknowledged')[0]!.json).toMatchObject({ type: 'fall_acknowledged', alert_id: id, acknowledged_by: 'admin' });
    const s = await adminStatus(h.adminUrl);
    expect(s.checks.alerts.sinks.webhook_1).toMatchObject({ reachable: true, detail: expect.stringMatching(/delivered/) });
    // The URL's query (often a token) is never shown.
    expect(JSON.stringify(s)).not.toContain('token=abc');
  } finally {
    await h.close();
    await rx.stop();
  }
});

test('a webhook without a secret is sent unsigned', async () => {
  const rx = new Receiver(await freePort());
  await rx.start();
  const h = await startGateway({ ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
  try {
    await postFall(h.url, await h.token());
    await waitFor(() => rx.ofType('fall_detected').length === 1, 10_000, 'the webhook');
    expect(rx.got[0]!.headers['x-caredian-signature']).toBeUndefined();
  } finally {
    await h.close();
    await rx.stop();
  }
});

test('the receiver down for a while, then up: the alert arrives once', async () => {
  const rx = new Receiver(await freePort());
  const h = await startGateway({ ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url, secret: SECRET }]) });
  try {
    const id = await postFall(h.url, await h.token());
    await waitFor(() => h.logs.text.includes('alert delivery failed; will retry'), 10_000, 'a failed attempt');
    const s = await adminStatus(h.adminUrl);
    expect(s.checks.alerts.outbox).toBe(1);
    expect(s.checks.alerts.sinks.webhook_1!.reachable).toBe(false);
    expect(s.status).toBe('degraded');
    expect(s.warnings.join(' ')).toMatch(/nobody is alerted/);
    await rx.start();
    await waitFor(() => rx.ofType('fall_detected').length > 0, 20_000, 'delivery after the outage');
    await new Promise((r) => setTimeout(r, 3000));
    expect(rx.ofType('fall_detected').map((g) => g.json.alert_id)).toEqual([id]);
    expect((await adminStatus(h.adminUrl)).checks.alerts.outbox).toBe(0);
  } finally {
    await h.close();
    await rx.stop();
  }
}, 40_000);

test('the gateway killed (SIGKILL) with an undelivered alert and restarted: the alert arrives', async () => {
  const rx = new Receiver(await freePort());
  const dataDir = tempDir();
  const env = { DATA_DIR: dataDir, ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url, secret: SECRET }]) };
  const g1 = await startChildGateway(env);
  let g2;
  try {
    const id = await postFall(g1.url, await g1.token('events:fall:ingest'));
    await waitFor(() => g1.output().includes('alert delivery failed; will retry'), 10_000, 'a failed attempt');
    await g1.kill('SIGKILL');
    expect(rx.got).toEqual([]);
    await rx.start();
    g2 = await startChildGateway(env, g1.ports);
    await waitFor(() => rx.ofType('fall_detected').length > 0, 15_000, 'delivery after the restart');
    const g = rx.ofType('fall_detected');
    expect(g.map((x) => x.json.alert_id)).toEqual([id]);
    expect(g[0]!.headers['x-caredian-signature']).toBe(`sha256=${createHmac('sha256', SECRET).update(g[0]!.body).digest('hex')}`);
  } finally {
    await g1.kill();
    await g2?.kill();
    await rx.stop();
  }
}, 60_000);

test('a receiver answering 400: recorded as failed, not retried, visible in /api/status', async () => {
  const rx = new Receiver(await freePort());
  rx.status = 400;
  await rx.start();
  const h = await startGateway({ ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
  try {
    const id = await postFall(h.url, await h.token());
    await waitFor(() => rx.got.length === 1, 10_000, 'the first attempt');
    // Past the first retry's backoff (4 s): a retriable failure would have been tried again.
    await new Promise((r) => setTimeout(r, 5000));
    expect(rx.got.length).toBe(1);
    const s = await adminStatus(h.adminUrl);
    expect(s.checks.alerts.outbox).toBe(0);
    expect(s.checks.alerts.failed).toEqual([expect.objectContaining({ alert: id, sink: 'webhook_1', reason: expect.stringMatching(/HTTP 400/) })]);
    expect(s.status).toBe('degraded');
    expect(s.warnings.join(' ')).toMatch(/failed/);
    expect(h.logs.text).toMatch(/alert delivery refused; it will not be retried/);
  } finally {
    await h.close();
    await rx.stop();
  }
}, 30_000);

test('a receiver answering 503 or 429 is retried', async () => {
  const rx = new Receiver(await freePort());
  rx.status = 503;
  await rx.start();
  const h = await startGateway({ ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: rx.url }]) });
  try {
    await postFall(h.url, await h.token());
    await waitFor(() => rx.got.length === 1, 10_000, 'the first attempt');
    rx.status = 200;
    await waitFor(() => rx.got.length === 2, 15_000, 'the retry');
    expect(rx.got[0]!.body).toBe(rx.got[1]!.body);
    expect(rx.got[0]!.headers['x-caredian-delivery']).toBe(rx.got[1]!.headers['x-caredian-delivery']);
    await new Promise((r) => setTimeout(r, 1000));
    expect(rx.got.length).toBe(2);
  } finally {
    await h.close();
    await rx.stop();
  }
}, 30_000);

test('a standalone install without any sink says nobody is alerted on /ready and in /api/status', async () => {
  const h = await startGateway();
  try {
    const r = await fetch(`${h.url}/ready`);
    const body = (await r.json()) as { ok: boolean; status: string; warnings: string[] };
    expect(body.status).toBe('degraded');
    expect(body.warnings.join(' ')).toMatch(/falls are stored but nobody is alerted/);
    await postFall(h.url, await h.token());
    await waitFor(() => h.logs.text.includes('nobody is alerted'), 5000, 'the warning log line');
    const line = h.logs.lines.find((l) => l.includes('FALL: stored, but no alert sink'))!;
    expect(JSON.parse(line).level).toBe('warn');
  } finally {
    await h.close();
  }
});

test('a webhook URL that is not http(s) is a configuration error naming the option', () => {
  for (const url of ['ftp://example.com/x', 'javascript:alert(1)', 'not a url', 'file:///etc/passwd']) {
    const load = () => loadConfig({ optionsPath: '/nonexistent/options.json', env: { ALERT_WEBHOOKS_JSON: JSON.stringify([{ url }]) } });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/ALERT_WEBHOOKS_JSON/);
  }
  expect(() => loadConfig({ optionsPath: '/nonexistent/options.json', env: { ALERT_WEBHOOKS_JSON: '{"url":' } })).toThrow(/ALERT_WEBHOOKS_JSON/);
  expect(loadConfig({ optionsPath: '/nonexistent/options.json', env: { ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: 'https://ntfy.sh/grandma' }]) } }).alert_webhooks).toEqual([{ url: 'https://ntfy.sh/grandma' }]);
});
