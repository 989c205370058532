// npm run bench:abuse: the gateway (with its own InfluxDB) under a steady device load, first alone
// (the baseline), then during each attack of the security review, one at a time; then the seed
// design (FastAPI peer, when its Debian packages are installed) under the attacks it has endpoints
// for. Prints, per attack, the steady load's p99 and errors, peak RSS and whether the attack was
// stopped. Only loopback: attackers use other 127.x.y.z source addresses.
// BENCH_SECONDS (default 30) per attack, BENCH_RATE (default 80) steady requests/s, BENCH_IDLE
// (default 8000, capped below ulimit -n) idle connections, BENCH_SEED=0 skips the seed,
// BENCH_PHASES=imu,big runs only those attacks (keys of PHASES, or replay for attack 10; the
// baselines always run),
// BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") go on the gateway's node command line.
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SignJWT } from 'jose';
import { Influxd, freePort } from '../dist/devtools/influxd.js';
import { ROOT, SHARED, spawnLogged, waitHttp, stop, fmt, treeRssMb, seedRunnable, gatewayArgs, gatewayEnv } from './lib.mjs';
import { pct, send, sleep, tokenFor } from './abuse/http.mjs';
import { startUpstream } from './abuse/upstream.mjs';
import * as attacks from './abuse/attacks.mjs';

// 30 s per attack: 2,400 steady requests a phase, so a p99 is not two slow answers (at 12 s it moved 2-5x between identical runs).
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 80);
const GAP_MS = 3000;
const ONLY = process.env.BENCH_PHASES ? new Set(['baseline', 'after', ...process.env.BENCH_PHASES.split(',')]) : undefined;
const chosen = (keys) => (ONLY ? keys.filter((k) => ONLY.has(k)) : keys);
const P99_FACTOR = 3;
const RSS_LIMIT_MB = 300;
const ADMIN = 'bench-admin-token-0123456789';
const KEY = 'bench-api-key-0123456789abcdef';
const LEGIT = { id: 'esp32-01', secret: 'S3cr3t_Long_Random' };
const ATTACKER = { id: 'esp32-02', secret: 'An0ther_Long_Secret_2' };
const HUB = { id: 'hub-01', secret: 'Hub_Secret_Long_0001' };
const IMU_HUB = { id: 'hub-02', secret: 'Hub_Secret_Long_0002' };
// The gateway's defaults that the expectations name, from its own schema (the bench runs the defaults).
const { FIELDS } = await import('../dist/config/schema.js');
const byDefault = (k) => FIELDS[k].schema.parse(undefined);
const { DEFAULT_ATTEMPT_LIMITS } = await import('../dist/auth/attempt-limits.js').catch(() => ({ DEFAULT_ATTEMPT_LIMITS: { failuresPerClientIp: 10 } }));
const DEFAULTS = { maxNewPerMin: byDefault('max_new_devices_per_min'), perAddressCap: byDefault('max_connections_per_address'), headersTimeoutSec: byDefault('http_headers_timeout_sec'), lockoutAfter: DEFAULT_ATTEMPT_LIMITS.failuresPerClientIp };

/** The 1-minute load average: other work on the machine shows in every latency here. */
const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const ulimit = Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()) || 1024;
// Both ends of every connection are on this machine; leave room for everything else.
const IDLE = Math.max(0, Math.min(Number(process.env.BENCH_IDLE ?? 8000), ulimit - 2000));

function steadyStats(b) {
  if (!b) return { n: 0, p50: NaN, p99: NaN, max: NaN, errors: 0, tokenOk: 0, tokenFail: 0 };
  const lat = [...b.lat].sort((x, y) => x - y);
  return { n: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1], errors: b.errors, statuses: b.statuses, tokenOk: b.tokenOk, tokenFail: b.tokenFail };
}

const PHASES = {
  baseline: ['no attack (baseline)', null],
  cross: ["1 falls/IMU for another client's device, future ts", (d, t) => attacks.crossDevice({ ...d, victim: LEGIT.id, attacker: ATTACKER.id, imu: t.has.imu })],
  ids: ['2 one token, 20k new device ids', (d) => attacks.manyDeviceIds({ ...d, maxNewPerMin: DEFAULTS.maxNewPerMin })],
  imu: ['3 IMU chunks for new device ids', (d) => attacks.imuDeviceIds({ ...d, maxNewPerMin: DEFAULTS.maxNewPerMin })],
  tokenFail: ['4 40 addresses × 30 failed token requests', (d) => attacks.tokenFailures(d)],
  guess: ["5 wrong secrets for the device's client id", (d) => attacks.wrongSecretsForLegit({ ...d, clientId: LEGIT.id, lockoutAfter: DEFAULTS.lockoutAfter }), { tokenEveryMs: 500 }],
  proxy: ['6 proxy path escapes', (d, t) => attacks.proxyEscapes({ ...d, apiKey: KEY, upstream: t.upstream })],
  idle: [`7 ${IDLE} idle / half-sent connections`, (d) => attacks.idleConnections({ ...d, count: IDLE, perAddressCap: DEFAULTS.perAddressCap, headersTimeoutSec: DEFAULTS.headersTimeoutSec }), { seconds: Math.max(SECONDS, DEFAULTS.headersTimeoutSec + 5) }],
  big: ['8 8 MB chunked bodies (token, fall + Origin)', (d) => attacks.bigChunkedBodies(d)],
  reuse: ['9 event_id reused with different bodies', (d) => attacks.eventIdReuse({ ...d, attacker: ATTACKER.id })],
  after: ['no attack (after)', null],
};

/** Steady load alone, then with each attack in turn; the rows of the table. */
async function underAttack(t) {
  const rss = { label: 'warm-up', peak: {}, overall: 0 };
  const rssTimer = setInterval(() => {
    const mb = treeRssMb(t.pid());
    rss.peak[rss.label] = Math.max(rss.peak[rss.label] ?? 0, mb);
    rss.overall = Math.max(rss.overall, mb);
  }, 500);
  const tokens = {
    attacker: await tokenFor(t.port, ATTACKER.id, ATTACKER.secret),
    hub: await tokenFor(t.port, HUB.id, HUB.secret),
    imuHub: await tokenFor(t.port, IMU_HUB.id, IMU_HUB.secret),
  };
  const worker = new Worker(new URL('./abuse/steady.mjs', import.meta.url), {
    workerData: { port: t.port, clientId: LEGIT.id, secret: LEGIT.secret, device: LEGIT.id, rate: RATE, heartbeats: t.has.heartbeat, tokenEveryMs: 2000, bearer: await tokenFor(t.port, LEGIT.id, LEGIT.secret) },
  });
  const report = new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const mark = (label) => {
    rss.label = label;
    worker.postMessage({ mark: label });
  };
  const results = {};
  try {
    mark('warm-up');
    await sleep(5000);
    for (const key of t.phases) {
      const [name, run, o = {}] = PHASES[key];
      if (t.exited()) break;
      if (o.tokenEveryMs) worker.postMessage({ tokenEveryMs: o.tokenEveryMs });
      mark(name);
      const deadline = Date.now() + (o.seconds ?? SECONDS) * 1000;
      let r = null;
      try {
        r = run ? await run({ port: t.port, deadline, tokens }, t) : null;
      } catch (err) {
        r = { traffic: '—', answers: `bench error: ${err.message}`, expect: '', stopped: false };
      }
      await sleep(deadline - Date.now());
      results[name] = { r, load: loadavg(), rss: rss.peak[name] ?? NaN };
      console.log(`[${t.name}] ${name} (load ${results[name].load}): ${r ? `${r.traffic} → ${r.answers}` : 'steady load only'}${t.exited() ? `  EXITED ${JSON.stringify(t.exited())}` : ''}`);
      if (o.tokenEveryMs) worker.postMessage({ tokenEveryMs: 2000 });
      mark('gap');
      await sleep(GAP_MS);
    }
    worker.postMessage({ stop: true });
    const buckets = await report;
    const rows = Object.entries(results).map(([name, x]) => {
      const s = steadyStats(buckets[name]);
      return { name, s, r: x.r, stopped: x.r ? (x.r.stoppedIf ? x.r.stoppedIf(s) : x.r.stopped) : undefined, rss: x.rss, load: x.load };
    });
    return { rows, rss };
  } finally {
    clearInterval(rssTimer);
    await worker.terminate();
  }
}

function printTable(title, rows, extraRows, rssOverall) {
  const base = rows.find((r) => r.name === PHASES.baseline[0])?.s;
  if (!base) return console.log(`\n${title}: no baseline measured`);
  const limit = P99_FACTOR * base.p99;
  console.log(`\n### ${title}\nbaseline steady load: ${base.n} requests, p50 ${fmt(base.p50, 2)} ms, p99 ${fmt(base.p99, 2)} ms; targets: steady p99 ≤ ${P99_FACTOR}× baseline (${fmt(limit, 2)} ms) during every attack, RSS < ${RSS_LIMIT_MB} MB throughout\n`);
  console.log('| attack | attack traffic | steady p99 ms | × baseline (target ≤ 3) | steady errors / requests | device tokens ok / failed | RSS max MB (target < 300) | load avg | answers to the attacker | expected | stopped |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|---|---|');
  const x = (ok) => (ok ? '' : ' ✗');
  for (const { name, s, r, stopped, rss, load } of rows) {
    const ratio = s.p99 / base.p99;
    console.log(`| ${name} | ${r?.traffic ?? '—'} | ${fmt(s.p99, 2)} | ${fmt(ratio, 2)}${x(!(ratio > P99_FACTOR))} | ${s.errors} / ${s.n} | ${s.tokenOk} / ${s.tokenFail} | ${fmt(rss, 0)}${x(!(rss >= RSS_LIMIT_MB))} | ${load} | ${r?.answers ?? '—'} | ${r?.expect ?? '—'} | ${r ? (stopped ? 'yes' : '**no**') : '—'} |`);
  }
  for (const e of extraRows) console.log(e);
  const after = rows.find((r) => r.name === PHASES.after[0])?.s;
  if (after && (after.p99 > 2 * base.p99 || after.p99 < base.p99 / 2)) console.log(`\nnote: the no-attack p99 moved from ${fmt(base.p99, 2)} ms (before) to ${fmt(after.p99, 2)} ms (after): other work on the machine (load avg column) weighs on these figures`);
  const attacked = rows.filter((r) => r.r);
  const worst = Math.max(...attacked.map((r) => r.s.p99 / base.p99).filter(Number.isFinite));
  const stoppedN = attacked.filter((r) => r.stopped).length + extraRows.filter((e) => e.endsWith('| yes |')).length;
  console.log(`\n${title}: worst steady p99 ${fmt(worst, 2)}× baseline (target ≤ ${P99_FACTOR}×): ${worst <= P99_FACTOR ? 'met' : 'NOT met'}; RSS max ${fmt(rssOverall, 0)} MB (target < ${RSS_LIMIT_MB}): ${rssOverall < RSS_LIMIT_MB ? 'met' : 'NOT met'}; attacks stopped ${stoppedN} of ${attacked.length + extraRows.length}`);
  console.log(`steady answers by phase: ${JSON.stringify(Object.fromEntries(rows.map((r) => [r.name, r.s.statuses])))}`);
}

/** (10) A signed proxy request, replayed, then replayed again after SIGKILL and a restart. */
async function replayAfterRestart(g) {
  const body = JSON.stringify({ text: 'replay me', lang: 'en' });
  const sign = () =>
    new SignJWT({ bh: createHash('sha256').update(body).digest('base64url'), htm: 'POST', htu: '/proxy/signed' })
      .setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setJti(randomUUID()).sign(new TextEncoder().encode(KEY));
  const call = (token) => send(g.port, { path: '/proxy/signed', headers: { Authorization: `Bearer ${KEY}`, 'X-Auth-Token': token }, body });
  const signed = await sign();
  const hits0 = g.upstream.seen.total;
  const first = await call(signed);
  const again = await call(signed);
  await g.kill();
  await g.start();
  const rssMb = treeRssMb(g.pid());
  const afterRestart = await call(signed);
  const fresh = await call(await sign());
  const forwarded = g.upstream.seen.total - hits0;
  const answers = `first ${first.status}, replay ${again.status} ${again.json?.error ?? ''}; after SIGKILL + restart: replay ${afterRestart.status} ${afterRestart.json?.error ?? ''}, new jti ${fresh.status}; upstream got ${forwarded}`;
  const ok = first.status === 200 && again.status === 401 && afterRestart.status === 401 && fresh.status === 200 && forwarded === 2;
  console.log(`[gateway] 10 replay after restart: ${answers}`);
  return `| 10 signed proxy request replayed after SIGKILL + restart | 1 signed request, replayed twice | — | — | — | — | ${fmt(rssMb, 0)} | ${loadavg()} | ${answers} | replay refused (401) before and after the restart | ${ok ? 'yes' : '**no**'} |`;
}

function gatewayTarget(influxd, upstream, dataDir, port, adminPort) {
  const env = {
    CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json',
    HOST: '127.0.0.1', // the whole 127/8 reaches it: attackers connect from 127.x.y.z source addresses
    PORT: String(port), INGRESS_PORT: String(adminPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_TOKEN: ADMIN,
    INFLUX_URL: influxd.url, INFLUX_DB: 'gateway',
    CC_CLIENTS_JSON: JSON.stringify({ [LEGIT.id]: LEGIT.secret, [ATTACKER.id]: ATTACKER.secret, [HUB.id]: { secret: HUB.secret, devices: ['hub-*'] }, [IMU_HUB.id]: { secret: IMU_HUB.secret, devices: ['imu-*'] } }),
    API_KEYS_JSON: JSON.stringify({ bench: KEY }),
    PROXY_UPSTREAMS_JSON: JSON.stringify({ open: { url: `http://127.0.0.1:${upstream.port}/open`, require_signature: false }, signed: { url: `http://127.0.0.1:${upstream.port}/open/analyze` } }),
  };
  let p;
  let exit;
  return {
    name: 'gateway',
    port,
    upstream,
    has: { imu: true, heartbeat: true },
    phases: chosen(Object.keys(PHASES)),
    pid: () => p.pid,
    exited: () => exit,
    output: () => p?.out ?? '',
    async start() {
      p = spawnLogged(process.execPath, gatewayArgs(), gatewayEnv(env));
      exit = undefined;
      p.once('exit', (code, signal) => (exit = { code, signal }));
      await waitHttp(`http://127.0.0.1:${port}/health`);
    },
    async kill() {
      if (!exit) await new Promise((r) => (p.once('exit', r), p.kill('SIGKILL')));
    },
    stop: () => stop(p),
    async status() {
      const r = await fetch(`http://127.0.0.1:${adminPort}/api/status`, { headers: { Authorization: `Bearer ${ADMIN}` } });
      const s = await r.json();
      return { ingest: s.checks?.ingest, inference: s.checks?.inference };
    },
  };
}

function seedTarget(influxd, port) {
  let p;
  let exit;
  return {
    name: 'seed (FastAPI)',
    port,
    has: { imu: false, heartbeat: false },
    // No IMU, proxy or replay in the seed design: attacks 3, 6 and 10 have nothing to hit.
    phases: chosen(['baseline', 'cross', 'ids', 'tokenFail', 'guess', 'idle', 'big', 'reuse', 'after']),
    pid: () => p.pid,
    exited: () => exit,
    output: () => p?.out ?? '',
    async start() {
      await fetch(`${influxd.url}/query?q=${encodeURIComponent('CREATE DATABASE seed')}`, { method: 'POST' });
      const clients = Object.fromEntries([LEGIT, ATTACKER, HUB, IMU_HUB].map((c) => [c.id, c.secret]));
      p = spawnLogged('sh', [join(SHARED, 'peers', 'seed_fastapi', 'run.sh')], { INFLUX_URL: influxd.url, INFLUX_DB: 'seed', PORT: String(port), WORKERS: '2', CC_CLIENTS_JSON: JSON.stringify(clients) });
      p.once('exit', (code, signal) => (exit = { code, signal }));
      await waitHttp(`http://127.0.0.1:${port}/health`);
    },
    stop: () => stop(p),
  };
}

for (const k of ONLY ?? []) if (!PHASES[k] && k !== 'replay') throw new Error(`BENCH_PHASES: no attack "${k}"; choose from ${Object.keys(PHASES).join(', ')}`);
const dir = mkdtempSync(join(tmpdir(), 'caredian-abuse-bench-'));
const influxd = await Influxd.create();
const upstream = await startUpstream();
const started = Date.now();
let current;
try {
  console.log(`# ${cpus().length} cores (${cpus()[0]?.model}), node ${process.version}, ulimit -n ${ulimit} → ${IDLE} idle connections; steady ${RATE} req/s from 127.0.0.1 (3 falls : 1 heartbeat, keep-alive) + a token every 2 s; ${SECONDS} s per attack; load average ${loadavg()} at the start`);
  const g = (current = gatewayTarget(influxd, upstream, join(dir, 'data'), await freePort(), await freePort()));
  await g.start();
  const { rows, rss } = await underAttack(g);
  const status = g.exited() ? undefined : await g.status().catch(() => undefined);
  // Attack 10 kills the gateway (so a profile of the attacks before it would be lost): BENCH_PHASES=replay.
  const extra = ONLY && !ONLY.has('replay') ? [] : g.exited() ? ['| 10 signed proxy request replayed after SIGKILL + restart | not run: the gateway exited | | | | | | | | | **no** |'] : [await replayAfterRestart(g)];
  printTable('gateway', rows, extra, rss.overall);
  if (status) console.log(`gateway status after the attacks: ${JSON.stringify(status)}`);
  await g.stop();

  if (process.env.BENCH_SEED === '0') console.log('\nseed: skipped (BENCH_SEED=0)');
  else if (!seedRunnable()) console.log('\nseed: not run (apt-get install -y python3-fastapi python3-uvicorn python3-jwt python3-requests python3-cryptography)');
  else {
    const s = (current = seedTarget(influxd, await freePort()));
    await s.start();
    const seed = await underAttack(s);
    printTable('seed (FastAPI, the design replaced); steady load: fall reports only (it has no heartbeat)', seed.rows, ['| 3, 6, 10 (IMU, proxy, signed replay) | not run: the seed has no such endpoints | | | | | | | | | — |'], seed.rss.overall);
    await s.stop();
  }
  console.log(`\nbench took ${((Date.now() - started) / 1000).toFixed(0)} s; load average ${loadavg()} at the end`);
} finally {
  if (current?.exited() && current.output()) console.log(`${current.name} output (tail):\n${current.output().slice(-3000)}`);
  await current?.stop();
  await upstream.close();
  await influxd.destroy();
  rmSync(dir, { recursive: true, force: true });
}
