// Shared pieces of the benchmark scripts: processes, wrk runs and their parsing.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SHARED = process.env.CAREDIAN_SHARED_DIR ?? resolve(ROOT, '..', '..', 'shared');

export function need(cmd, hint) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${cmd} not found: ${hint}`);
  }
}

/** Spawns with this process's environment plus `env` (`{ clean: true }`: exactly `env`), keeping the output's tail in p.out. */
export function spawnLogged(cmd, args, env, o = {}) {
  const p = spawn(cmd, args, { env: o.clean ? env : { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  p.out = '';
  p.stdout.on('data', (b) => (p.out = (p.out + b).slice(-20000)));
  p.stderr.on('data', (b) => (p.out = (p.out + b).slice(-20000)));
  return p;
}

export async function waitHttp(url, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      if (r.status < 500) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

export function stop(p) {
  return new Promise((res) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return res();
    p.once('exit', res);
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 5000).unref();
  });
}

export async function token(url, id, secret, scope = 'events:fall:ingest') {
  const r = await fetch(`${url}/auth/cc/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client_id: id, client_secret: secret, scope }) });
  if (r.status !== 200) throw new Error(`token from ${url}: ${r.status} ${await r.text()}`);
  return (await r.json()).access_token;
}

const ms = (v, unit) => Number(v) * { us: 0.001, ms: 1, s: 1000 }[unit];

/** Runs wrk and returns requests/s, latency percentiles (ms), and 2xx/non-2xx counts. */
export function wrk(url, { connections, seconds, threads = 1, script, env = {} }) {
  return new Promise((res, rej) => {
    const p = spawn('wrk', [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], { env: { ...process.env, ...env } });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.stderr.on('data', (b) => (out += b));
    p.on('exit', (code) => {
      if (code !== 0) return rej(new Error(`wrk failed: ${out}`));
      const num = (re) => {
        const m = re.exec(out);
        return m ? m : undefined;
      };
      const total = Number(num(/(\d+) requests in/)[1]);
      const non2xx = Number(num(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
      const errs = num(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
      const pct = (p) => {
        const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(out);
        return m ? ms(m[1], m[2]) : NaN;
      };
      res({ rps: Number(num(/Requests\/sec:\s+([\d.]+)/)[1]), p50: pct(50), p90: pct(90), p99: pct(99), total, ok: total - non2xx, non2xx, socketErrors: errs ? errs.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0, raw: out });
    });
  });
}

export const fmt = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** VmRSS (MB) of a process and all its descendants (the seed runs uvicorn workers). */
export function treeRssMb(root) {
  const parent = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {}
  }
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, pp] of parent) if (tree.has(pp) && !tree.has(pid)) (tree.add(pid), (grew = true));
  }
  let kb = 0;
  for (const pid of tree) {
    try {
      kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    } catch {}
  }
  return kb / 1024;
}

/** Whether the seed peer's Debian packages are installed. */
export const seedRunnable = () => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import fastapi, uvicorn, jwt, requests, cryptography'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const RUN_SCRIPT = join(ROOT, 'rootfs', 'etc', 's6-overlay', 's6-rc.d', 'caredian', 'run');

/** The node options and the malloc settings (`export MALLOC_X="${MALLOC_X:-v}"` lines) the add-on's run script starts the gateway with. */
export function addonCommandLine() {
  const script = readFileSync(RUN_SCRIPT, 'utf8');
  const exec = /^exec "\$NODE_BIN" (.*)"\$APP_DIR\/dist\/main\.js"\s*$/m.exec(script);
  if (!exec) throw new Error(`${RUN_SCRIPT}: no 'exec "$NODE_BIN" … "$APP_DIR/dist/main.js"' line`);
  const env = {};
  for (const m of script.matchAll(/^export (MALLOC_\w+)="\$\{\1:-([^}]+)\}"$/gm)) env[m[1]] = m[2];
  if (Object.keys(env).length === 0) throw new Error(`${RUN_SCRIPT}: no MALLOC_* settings found`);
  return { nodeArgs: exec[1].split(' ').filter(Boolean), env };
}

/** The gateway's environment for a bench: the add-on's malloc settings, then `env`. */
export const gatewayEnv = (env = {}) => ({ ...addonCommandLine().env, ...env });

/** The gateway's node command line: the run script's node options, then BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), then dist/main.js. */
export const gatewayArgs = () => [...addonCommandLine().nodeArgs, ...(process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? []), join(ROOT, 'dist', 'main.js')];
