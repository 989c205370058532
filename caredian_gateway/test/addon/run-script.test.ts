// Runs the add-on's s6 longrun script the way s6-overlay v3 does: s6-supervise starts it with an
// emptied environment (PATH only) and the kernel runs its shebang; `with-contenv` empties the
// environment again and loads the container's (which the Supervisor set: SUPERVISOR_TOKEN, TZ)
// from the files s6 keeps in /run/s6/container_environment. Stand-ins here: that directory (a temp
// dir), `with-contenv` (the same three steps, pointed at it), `bashio` (bash with its strict
// options, sourcing the script) and Home Assistant behind the Supervisor's proxy.
//
// The variables named PLUMBING stand for what the image fixes (/opt/caredian, /data, the ports,
// http://supervisor); they are given both ways so that the only difference with and without
// with-contenv is what the Supervisor passes through the container environment.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from '../../src/devtools/influxd.js';
import { waitFor } from '../support/harness.js';
import { HaStandin, SUPERVISOR_TOKEN } from '../support/ha-standin.js';

const RUN = join(process.cwd(), 'rootfs', 'etc', 's6-overlay', 's6-rc.d', 'caredian', 'run');
const WITH_CONTENV_PATHS = ['/usr/bin/with-contenv', '/command/with-contenv'];

let ha: HaStandin;
beforeAll(async () => {
  ha = new HaStandin();
  await ha.start();
  await ha.startSupervisor();
});
afterAll(async () => {
  await ha.close();
});

interface Started {
  p: ChildProcess;
  out: () => string;
  port: number;
  ingress: number;
  stop: () => Promise<void>;
}

/** Writes the stand-ins and the container environment, then execs `script` as the kernel would. */
async function runLikeS6(script: string, options: Record<string, unknown>): Promise<Started> {
  const dir = mkdtempSync(join(tmpdir(), 'addon-run-'));
  const bin = join(dir, 'bin');
  const contenv = join(dir, 'run-s6-container_environment');
  mkdirSync(bin);
  mkdirSync(contenv);
  const withContenv = join(bin, 'with-contenv');
  // s6-overlay's with-contenv (S6_KEEP_ENV unset): emptyenv -p; s6-envdir <dir>; exec "$@".
  writeFileSync(withContenv, `#!/bin/sh\nexec env -i PATH="$PATH" /bin/sh -c 'for f in "$0"/*; do [ -f "$f" ] && export "\${f##*/}=$(cat "$f")"; done; exec "$@"' '${contenv}' "$@"\n`);
  // bashio: bash in strict mode sourcing the script (as /usr/bin/bashio does).
  writeFileSync(join(bin, 'bashio'), '#!/usr/bin/env bash\nset -o errexit -o errtrace -o nounset -o pipefail\n# shellcheck disable=SC1090\nsource "$1"\n');
  chmodSync(withContenv, 0o755);
  chmodSync(join(bin, 'bashio'), 0o755);

  const optionsPath = join(dir, 'options.json');
  writeFileSync(optionsPath, JSON.stringify(options));
  const [port, ingress] = [await freePort(), await freePort()];
  const PLUMBING = { CAREDIAN_APP_DIR: process.cwd(), NODE_BIN: process.execPath, CAREDIAN_OPTIONS_PATH: optionsPath, DATA_DIR: join(dir, 'data'), PORT: String(port), INGRESS_PORT: String(ingress), HOST: '127.0.0.1', SUPERVISOR_URL: ha.supervisorUrl };
  // What the Supervisor puts in the container's environment, as s6 stores it: one file per variable.
  for (const [k, v] of Object.entries({ ...PLUMBING, SUPERVISOR_TOKEN, TZ: 'Asia/Seoul' })) writeFileSync(join(contenv, k), v);

  const shebang = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(readFileSync(script, 'utf8'))!;
  const interpreter = WITH_CONTENV_PATHS.includes(shebang[1]!) ? withContenv : shebang[1]!;
  const path = [bin, dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin'].join(':');
  const p = spawn(interpreter, [...(shebang[2] ? [shebang[2]] : []), script], { env: { PATH: path, ...PLUMBING }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  await waitFor(() => out.includes('CareDian Gateway started') || p.exitCode !== null, 20_000, 'start-up');
  if (!out.includes('CareDian Gateway started')) throw new Error(`the gateway did not start:\n${out}`);
  return {
    p,
    out: () => out,
    port,
    ingress,
    stop: async () => {
      p.kill('SIGTERM');
      if (p.exitCode === null) await new Promise((r) => p.once('exit', r));
    },
  };
}

const options = {
  cc_clients: [{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random' }],
  location_default: 'home',
  log_level: 'info',
  log_json: true,
  ha_notify_mobile: ['notify.mobile_app_toms_phone'],
  devices: [{ device_id: 'esp32-01', person: 'Grandma Kim', location: 'bathroom', placement: 'wrist' }],
  // Caregivers are told at once (the wearer's window has its own tests).
  confirm_window_sec: 0,
};

type Ready = { status: string; checks: { home_assistant: { state?: string; via?: string; warning?: string } } };

test('the run script starts through with-contenv: add-on mode, Home Assistant reached through the Supervisor, local time from TZ', async () => {
  expect(statSync(RUN).mode & 0o111).not.toBe(0);
  expect(readFileSync(RUN, 'utf8').split('\n')[0]).toMatch(/^#!\/usr\/bin\/with-contenv bashio$/);
  const g = await runLikeS6(RUN, options);
  try {
    expect((JSON.parse(g.out().split('\n').find((l) => l.includes('CareDian Gateway started'))!) as { mode: string }).mode).toBe('addon');
    // Every step execs, so the spawned pid is the gateway itself, started with the malloc settings.
    expect(readFileSync(`/proc/${g.p.pid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining([join(process.cwd(), 'dist', 'main.js'), '--max-semi-space-size=32']));
    expect(readFileSync(`/proc/${g.p.pid}/environ`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=131072', 'MALLOC_TRIM_THRESHOLD_=262144']));
    await waitFor(async () => ((await (await fetch(`http://127.0.0.1:${g.port}/ready`)).json()) as Ready).checks.home_assistant.state === 'connected', 15_000, `Home Assistant reached (output: ${g.out()})`);
    expect(ha.supervisorRequests).toContain('WS /core/websocket');
    expect(ha.supervisorAuthFailures).toBe(0);
    const ready = (await (await fetch(`http://127.0.0.1:${g.port}/ready`)).json()) as Ready;
    expect(ready.checks.home_assistant).toMatchObject({ state: 'connected', via: 'supervisor' });
    expect(ready.checks.home_assistant.warning).toBeUndefined();

    expect((await fetch(`http://127.0.0.1:${g.ingress}/health`)).status).toBe(200);
    // Only the Supervisor's ingress proxy may use the admin API in add-on mode.
    expect((await fetch(`http://127.0.0.1:${g.ingress}/api/status`)).status).toBe(403);
    const r = await fetch(`http://127.0.0.1:${g.port}/auth/cc/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client_id: 'esp32-01', client_secret: 'S3cr3t_Long_Random' }) });
    expect(r.status).toBe(200);
    const token = ((await r.json()) as { access_token: string }).access_token;
    // 2025-11-22 08:26:40 UTC is 17:26 in Seoul.
    const ev = await fetch(`http://127.0.0.1:${g.port}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: 'esp32-01', event: 'fall', prob: 0.9, ts: 1763800000 }) });
    expect(ev.status).toBe(200);
    const note = await waitFor(() => ha.serviceCalls.find((c) => c.service === 'mobile_app_toms_phone'), 10_000, 'the phone notification');
    expect(note.service_data.title).toBe('Fall detected: Grandma Kim');
    expect(note.service_data.message).toBe('Grandma Kim may have fallen in the bathroom on 22 Nov at 17:26 (esp32-01, confidence 90%).');
    await waitFor(() => ha.supervisorRequests.some((q) => q.startsWith('POST /core/api/states/binary_sensor.caredian_esp32_01_fall')), 10_000, `the fall entity set through /core/api (requests: ${ha.supervisorRequests.join(', ')})`);
    expect(statSync(join(dataDirOf(g), 'keys')).mode & 0o777).toBe(0o700);
  } finally {
    await g.stop();
  }
}, 60_000);

test('the same script without with-contenv does not reach Home Assistant, and /ready says so', async () => {
  const copy = join(mkdtempSync(join(tmpdir(), 'addon-run-copy-')), 'run');
  const original = readFileSync(RUN, 'utf8');
  writeFileSync(copy, original.replace(/^#!\s*\S*with-contenv\s+/, '#!/usr/bin/env '));
  chmodSync(copy, 0o755);
  expect(readFileSync(copy, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env bashio');
  await waitFor(() => ha.connected === 0, 5000, "the first test's session closed");
  const before = ha.supervisorRequests.length;
  const g = await runLikeS6(copy, options);
  try {
    await new Promise((r) => setTimeout(r, 1500));
    const ready = (await (await fetch(`http://127.0.0.1:${g.port}/ready`)).json()) as Ready;
    expect(ready.status).toBe('degraded');
    expect(ready.checks.home_assistant.warning).toMatch(/^Home Assistant unreachable: no SUPERVISOR_TOKEN/);
    // Not reached: the Supervisor saw no request and Core no new session.
    expect(ha.supervisorRequests.length).toBe(before);
    expect(ha.connected).toBe(0);
  } finally {
    await g.stop();
  }
}, 60_000);

function dataDirOf(g: Started): string {
  return JSON.parse(g.out().split('\n').find((l) => l.includes('CareDian Gateway started'))!).data_dir as string;
}

test('npm start runs the gateway with the run script\'s node options and malloc settings', () => {
  const script = readFileSync(RUN, 'utf8');
  const start = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } }).scripts.start;
  const nodeArgs = /^exec "\$NODE_BIN" (.*)"\$APP_DIR\/dist\/main\.js"\s*$/m.exec(script)![1]!.trim();
  expect(nodeArgs).toContain('--max-semi-space-size=32');
  expect(start).toContain(`node ${nodeArgs} dist/main.js`);
  const malloc = [...script.matchAll(/^export (MALLOC_\w+)="\$\{\1:-([^}]+)\}"$/gm)].map((m) => `${m[1]}=\${${m[1]}:-${m[2]}}`);
  expect(malloc).toHaveLength(3);
  for (const m of malloc) expect(start).toContain(m);
});
