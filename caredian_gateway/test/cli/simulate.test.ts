// The device simulator against a real gateway: its synthetic fall is decided and its walk is not,
// many devices run at once, a device's client keeps working through an outage and a token the
// gateway no longer accepts, and `npm run simulate` (dist/cli/simulate.js) prints what happened.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DeviceClient } from '../../src/cli/device-client.js';
import { simulate, type SimEvent } from '../../src/cli/simulation.js';
import { syntheticFall, syntheticWalk } from '../../src/cli/synthetic-motion.js';
import { CLIENT_ID, CLIENT_SECRET, startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';

const base = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, chunkSec: 1, heartbeatSec: 30, passes: 1 };

let h: Harness;
beforeAll(async () => {
  h = await startGateway({ FALL_COOLDOWN_SEC: '60' });
});
afterAll(() => h.close());

test('the synthetic fall is decided once, within 2 s of its impact; the synthetic walk never', async () => {
  const fall = syntheticFall();
  const events: SimEvent[] = [];
  const started = Date.now() / 1000;
  const [f] = await simulate({ ...base, url: h.url, device: 'sim-fall', recording: fall, speed: 0 }, (e) => events.push(e));
  expect(f!.chunks).toBe(20);
  expect(f!.samples).toBe(fall.acc.length);
  expect(f!.falls).toHaveLength(1);
  // Fast replays are placed in the past: the recording starts duration + 1 s before now.
  const start = Math.round((started - 21) * 1000) / 1000;
  const delay = f!.falls[0]!.ts - (start + fall.impactSec!);
  expect(delay).toBeGreaterThan(0);
  expect(delay).toBeLessThan(2);
  expect(f!.falls[0]).toMatchObject({ source: 'model', alert: { state: 'open' } });
  expect(events.filter((e) => e.type === 'heartbeat')).toEqual([{ type: 'heartbeat', device: 'sim-fall', battery: expect.any(Number) }]);
  expect(events.filter((e) => e.type === 'token')).toHaveLength(1);

  const walk = syntheticWalk(120);
  const [w] = await simulate({ ...base, url: h.url, device: 'sim-walk', recording: walk, speed: 0 });
  expect(w!.samples).toBe(walk.acc.length);
  expect(w!.falls).toEqual([]);
  expect(w!.problems).toBe(0);
}, 60_000);

test('--devices: many devices at once, one token for all, each with its own timeline and its own fall', async () => {
  const events: SimEvent[] = [];
  const reports = await simulate({ ...base, url: h.url, device: 'ward', devices: 12, recording: syntheticFall(), speed: 0 }, (e) => events.push(e));
  expect(reports.map((r) => r.device_id)).toEqual(Array.from({ length: 12 }, (_, i) => `ward-${String(i + 1).padStart(3, '0')}`));
  for (const r of reports) expect(r.falls).toHaveLength(1);
  expect(events.filter((e) => e.type === 'token')).toHaveLength(1);
  const listed = (await (await fetch(`${h.adminUrl}/api/devices`, { headers: { Authorization: 'Bearer test-admin-token-0123456789' } })).json()) as { devices: { device_id: string; battery?: number }[] };
  expect(listed.devices.filter((d) => d.device_id.startsWith('ward-') && d.battery !== undefined)).toHaveLength(12);
}, 60_000);

test('a device client retries the same body through an outage, and gets a new token when the gateway no longer accepts its own', async () => {
  const first = await startGateway();
  const port = new URL(first.url).port;
  const retries: string[] = [];
  const tokens: boolean[] = [];
  const client = new DeviceClient({ url: first.url, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, onRetry: (what) => retries.push(what), onToken: (_ttl, refreshed) => tokens.push(refreshed) });
  await client.token();
  await first.close();
  // Down: the chunk waits. Back, with other signing keys (a fresh data directory): the old token is refused.
  const chunk = { device_id: 'sim-1', rate_hz: 50, t0: Math.round(Date.now() / 1000) - 5, acc: syntheticWalk(1).acc };
  const sent = client.post('/events/imu', chunk);
  await waitFor(() => retries.length >= 1, 5000, 'a retry');
  const second = await startGateway({ PORT: port }, { dataDir: tempDir() });
  try {
    const a = await sent;
    expect(a.status).toBe(200);
    expect(a.body).toMatchObject({ ok: true, accepted: 50 });
    expect(retries[0]).toMatch(/ECONNREFUSED/);
    expect(tokens).toEqual([false, true]);
    // The same chunk again (a retry after a lost answer) is not fed twice.
    expect((await client.post('/events/imu', chunk)).body).toMatchObject({ ok: true, accepted: 0 });
  } finally {
    await second.close();
  }
}, 30_000);

function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [join(process.cwd(), 'dist', 'cli', 'simulate.js'), ...args], { env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

test('npm run simulate: prints each decision and a summary; a wrong secret is said plainly', async () => {
  const ok = await runCli(['--url', h.url, '--client-id', CLIENT_ID, '--device', 'cli-band', '--fast'], { CAREDIAN_CLIENT_SECRET: CLIENT_SECRET });
  expect(ok.err).toBe('');
  expect(ok.code).toBe(0);
  expect(ok.out).toMatch(/^cli-band: streaming synthetic-fall \(20\.0 s at 50 Hz\) to http:\/\/127\.0\.0\.1:\d+ as fast as the gateway answers, 1 s chunks$/m);
  expect(ok.out).toMatch(/^cli-band: FALL decided at .+ \(probability \d\.\d\d, model\): alert [0-9a-f-]{36} open$/m);
  expect(ok.out).toMatch(/^done: 1 device, 20 chunks stored, 1 fall decided$/m);

  const walk = await runCli(['--url', h.url, '--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--device', 'cli-walker', '--recording', 'walk', '--fast', '--quiet']);
  expect(walk.code).toBe(0);
  expect(walk.out).toMatch(/^done: 1 device, 60 chunks stored, 0 falls decided$/m);
  expect(walk.out).not.toMatch(/FALL/);

  const bad = await runCli(['--url', h.url, '--client-id', CLIENT_ID, '--client-secret', 'not-the-secret-at-all']);
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/^simulator: token request failed: HTTP 401 invalid_client/m);

  const usage = await runCli(['--url', h.url]);
  expect(usage.code).toBe(2);
  expect(usage.err).toMatch(/--client-id and --client-secret are needed/);
}, 60_000);
