// Runs the add-on's s6 longrun script as the container would (minus s6), on an options.json.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/devtools/influxd.js';
import { waitFor } from '../support/harness.js';

test('rootfs run script starts the gateway in add-on mode from /data/options.json', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'addon-run-'));
  const optionsPath = join(dir, 'options.json');
  writeFileSync(optionsPath, JSON.stringify({ cc_clients: [{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random' }], location_default: 'bedroom', log_level: 'info', log_json: true }));
  const [port, ingress] = [await freePort(), await freePort()];
  const run = join(process.cwd(), 'rootfs', 'etc', 's6-overlay', 's6-rc.d', 'caredian', 'run');
  expect(statSync(run).mode & 0o111).not.toBe(0);
  const p = spawn(run, [], {
    env: { PATH: process.env.PATH, CAREDIAN_APP_DIR: process.cwd(), NODE_BIN: process.execPath, CAREDIAN_OPTIONS_PATH: optionsPath, DATA_DIR: join(dir, 'data'), PORT: String(port), INGRESS_PORT: String(ingress), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  try {
    await waitFor(() => out.includes('CareDian Gateway started'), 20_000, `start-up (output: ${out})`);
    const started = JSON.parse(out.split('\n').find((l) => l.includes('CareDian Gateway started'))!) as { mode: string };
    expect(started.mode).toBe('addon');
    expect((await fetch(`http://127.0.0.1:${ingress}/health`)).status).toBe(200);
    // Only the Supervisor's ingress proxy may use the admin API in add-on mode.
    expect((await fetch(`http://127.0.0.1:${ingress}/api/status`)).status).toBe(403);
    const r = await fetch(`http://127.0.0.1:${port}/auth/cc/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client_id: 'esp32-01', client_secret: 'S3cr3t_Long_Random' }) });
    expect(r.status).toBe(200);
    const token = ((await r.json()) as { access_token: string }).access_token;
    const ev = await fetch(`http://127.0.0.1:${port}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: 'esp32-01', event: 'fall', prob: 0.9 }) });
    expect(ev.status).toBe(200);
    expect(statSync(join(dir, 'data', 'keys')).mode & 0o777).toBe(0o700);
  } finally {
    p.kill('SIGTERM');
    await new Promise((r) => p.once('exit', r));
  }
});
