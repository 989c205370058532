// The ESP32 example's exact HTTP exchange (examples/esp32/exchange.json) against a real gateway.
// The request bodies are rebuilt by the sketch's own protocol code (caredian_protocol.h, compiled
// here with g++ through test/host_exchange.cpp) and must be the fixture's bytes; the real token
// answer is parsed by that code too.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, type Harness } from '../support/harness.js';

const EXAMPLE = resolve(process.cwd(), '..', 'examples', 'esp32');
const CXX = process.env.CXX ?? 'g++';

interface Step {
  step: string;
  request: { method: string; path: string; headers: Record<string, string>; body: string };
  expect: { status: number; json: Record<string, unknown>; json_has?: string[] };
}
const fixture = JSON.parse(readFileSync(join(EXAMPLE, 'exchange.json'), 'utf8')) as { gateway: { CC_CLIENTS_JSON: Record<string, string> }; steps: Step[] };

let dir: string;
let bin: string;
beforeAll(() => {
  const found = spawnSync(CXX, ['--version']);
  if (found.error) throw new Error(`${CXX} not found: apt-get install -y g++ (this test compiles the ESP32 example's protocol code for this machine)`);
  dir = mkdtempSync(join(tmpdir(), 'esp32-'));
  bin = join(dir, 'host_exchange');
  execFileSync(CXX, ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-I', join(EXAMPLE, 'src'), join(EXAMPLE, 'test', 'host_exchange.cpp'), '-o', bin]);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const host = (args: string[], input?: string) => execFileSync(bin, args, { input, encoding: 'utf8' });

test('the fixture holds exactly the bytes the sketch builds, and a full chunk fits its buffer', () => {
  const built = Object.fromEntries(host(['build']).trim().split('\n').map((l) => l.split('\t') as [string, string]));
  const bodies: Record<string, string> = { token: built.token!, token_again: built.token!, heartbeat: built.heartbeat!, expired_token: built.heartbeat!, heartbeat_new_token: built.heartbeat!, imu_1: built.imu_1!, imu_1_retry: built.imu_1!, imu_2: built.imu_2!, help: built.help!, help_retry: built.help! };
  for (const s of fixture.steps) {
    expect([s.step, s.request.body]).toEqual([s.step, bodies[s.step]]);
    if (s.request.path === '/auth/cc/token') expect(s.request.headers.Authorization).toBe(built.basic);
  }
  const imu = JSON.parse(built.imu_1!) as { acc: number[][]; rate_hz: number; t0: number };
  expect(imu.acc).toHaveLength(50);
  expect(imu.rate_hz).toBe(50);
  expect(Number(built.worst_case_bytes)).toBeLessThan(2048);
  expect(existsSync(join(EXAMPLE, 'src', 'main.cpp'))).toBe(true);
});

test('the device’s token and retry policy: refresh after 80 % of expires_in, across a millis() wrap; retry only what a retry can fix', () => {
  expect(host(['token', '1000'], '{"access_token":"aaa.bbb.ccc","token_type":"Bearer","expires_in":43200}')).toBe('ok 34561000 aaa.bbb.ccc\n');
  expect(host(['token', '0'], '{"ok":false,"error":"invalid_client"}')).toBe('fail\n');
  expect(host(['due', '34561000', '34560999'])).toBe('not due\n');
  expect(host(['due', '34561000', '34561000'])).toBe('due\n');
  expect(host(['due', '4294967000', '100'])).toBe('due\n');
  expect(host(['retry', '503', '5'])).toBe('retry 5000 5000 5000 5000 5000 5000 5000\n');
  expect(host(['retry', '-1', '0'])).toBe('retry 500 1000 2000 4000 8000 10000 10000\n');
  for (const s of ['400', '401', '403', '409', '413']) expect(host(['retry', s, '0'])).toMatch(/^final /);
});

test('the exchange, replayed against a real gateway, gets the answers the sketch expects', async () => {
  const h: Harness = await startGateway({ CC_CLIENTS_JSON: JSON.stringify(fixture.gateway.CC_CLIENTS_JSON) });
  // A token the gateway refuses: signed by another gateway (as after a key change, or expired).
  const other = await startGateway({ CC_CLIENTS_JSON: JSON.stringify(fixture.gateway.CC_CLIENTS_JSON) });
  const stale = await other.token(undefined, ['band-01', 'exchange-fixture-secret-01']);
  await other.close();
  try {
    let token = '';
    for (const s of fixture.steps) {
      const headers = Object.fromEntries(Object.entries(s.request.headers).map(([k, v]) => [k, v.replace('{{token}}', token).replace('{{stale_token}}', stale)]));
      const r = await fetch(`${h.url}${s.request.path}`, { method: s.request.method, headers, body: s.request.body });
      const text = await r.text();
      expect([s.step, r.status]).toEqual([s.step, s.expect.status]);
      const json = JSON.parse(text) as Record<string, unknown>;
      expect(json).toMatchObject(s.expect.json);
      for (const k of s.expect.json_has ?? []) expect(json).toHaveProperty(k);
      if (s.request.path === '/auth/cc/token') {
        // The device's own parser on the real answer.
        const [ok, refreshAt, parsed] = host(['token', '0'], text).trim().split(' ');
        expect(ok).toBe('ok');
        expect(parsed).toBe(json.access_token);
        expect(Number(refreshAt)).toBe(Math.floor(Number(json.expires_in) * 800));
        token = parsed!;
      }
      if (s.expect.status === 401) expect(r.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    // What the gateway made of it: the device with its battery and firmware, and one call for help (stored once).
    const admin = { headers: { Authorization: 'Bearer test-admin-token-0123456789' } };
    const devices = (await (await fetch(`${h.adminUrl}/api/devices`, admin)).json()) as { devices: { device_id: string; battery?: number; fw?: string }[] };
    expect(devices.devices).toEqual([expect.objectContaining({ device_id: 'band-01', battery: 87, fw: 'caredian-esp32-1.0.0' })]);
    const falls = (await (await fetch(`${h.adminUrl}/api/falls`, admin)).json()) as { falls: { id: string; kind?: string }[] };
    expect(falls.falls).toEqual([expect.objectContaining({ id: 'a1b2c3-7-1', kind: 'help' })]);
  } finally {
    await h.close();
  }
}, 30_000);
