// npm run bench:stream: many wearables streaming motion at once, end to end over HTTP.
// Starts the gateway (embedded default, the shipped model), then runs steps of N simulated
// devices (open loop: every device sends a 1 s chunk at 50 Hz on its own clock, a heartbeat every
// 60 s; bench/stream/driver.mjs, a separate process) and finds the largest N with no chunk refused
// and the answer to a chunk (the gateway decides before answering) at p99 <= 1 s. Prints the
// gateway's CPU and RSS per process and its own per-stage figures from GET /metrics.
//   BENCH_STEPS=250,500,1000,2000 BENCH_STEP_SEC=40 BENCH_WORKERS=<n> npm run bench:stream
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../dist/devtools/influxd.js';
import { ROOT, spawnLogged, waitHttp, stop, fmt, gatewayArgs, gatewayEnv } from './lib.mjs';

const STEPS = (process.env.BENCH_STEPS ?? '250,500,1000,1500,2000,2500,3000').split(',').map(Number);
const STEP_SEC = Number(process.env.BENCH_STEP_SEC ?? 40);
const WARM_SEC = Math.min(15, STEP_SEC / 3);
const ADMIN = 'bench-admin-token-0123456789';
const CLIENT = ['sim-hub', 'S3cr3t_Long_Random_Stream'];
const TARGET_P99_MS = 1000;

const clk = Number(process.env.CLK_TCK ?? 100);
const cpuSec = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / clk;
  } catch {
    return NaN;
  }
};
const rssMb = (pid) => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
  } catch {
    return NaN;
  }
};

const dataDir = mkdtempSync(join(tmpdir(), 'caredian-stream-'));
const [port, adminPort] = [await freePort(), await freePort()];
const env = {
  CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json', HOST: '127.0.0.1', PORT: String(port), INGRESS_PORT: String(adminPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_TOKEN: ADMIN,
  CC_CLIENTS_JSON: JSON.stringify({ [CLIENT[0]]: { secret: CLIENT[1], devices: ['sim-*'] } }),
  MAX_DEVICES: '20000', MAX_NEW_DEVICES_PER_MIN: '10000', IMU_STATE_MAX_MB: '256', MAX_CONNECTIONS_PER_ADDRESS: '0',
  ...(process.env.BENCH_WORKERS !== undefined ? { INGEST_WORKERS: process.env.BENCH_WORKERS } : {}),
};
const gw = spawnLogged(process.execPath, gatewayArgs(), gatewayEnv(env));
const url = `http://127.0.0.1:${port}`;
const admin = (path) => fetch(`http://127.0.0.1:${adminPort}${path}`, { headers: { Authorization: `Bearer ${ADMIN}` } });
try {
  await waitHttp(`${url}/health`);
  const status = await (await admin('/api/status')).json();
  const pids = [gw.pid, ...(status.checks.device_workers?.pids ?? [])];
  console.log(`# ${cpus().length} cores (${cpus()[0]?.model}); gateway pid ${gw.pid}, ${pids.length - 1} device-port workers; steps ${STEPS.join(', ')} devices, ${STEP_SEC} s each (first ${WARM_SEC} s not counted)`);
  console.log(`idle RSS: ${pids.map((p) => `${p === gw.pid ? 'owner' : 'worker'} ${fmt(rssMb(p), 0)} MB`).join(', ')}`);
  const rows = [];
  let best;
  for (const n of STEPS) {
    const metricsBefore = await scrape();
    const cpu0 = pids.map(cpuSec);
    const t0 = Date.now();
    let peak = pids.map(() => 0);
    const sampler = setInterval(() => (peak = pids.map((p, i) => Math.max(peak[i], rssMb(p)))), 1000);
    const r = await runDriver(n);
    clearInterval(sampler);
    const wall = (Date.now() - t0) / 1000;
    const cpu = pids.map((p, i) => (cpuSec(p) - cpu0[i]) / wall);
    const stages = stageCosts(metricsBefore, await scrape());
    const ok = r.refused === 0 && r.p99 <= TARGET_P99_MS && r.late_p99 <= TARGET_P99_MS;
    const row = { ...r, cpu_owner: cpu[0], cpu_workers: cpu.slice(1).reduce((a, b) => a + b, 0), rss_owner_mb: peak[0], rss_workers_mb: peak.slice(1).reduce((a, b) => a + b, 0), stages, ok };
    rows.push(row);
    console.log(`N=${n}: ${r.counted} chunks counted, refused ${r.refused}${r.refused ? ` ${JSON.stringify(r.refusals)}` : ''}, answer p50 ${fmt(r.p50, 0)} ms p99 ${fmt(r.p99, 0)} ms max ${fmt(r.max, 0)} ms, sent late p99 ${fmt(r.late_p99, 0)} ms; CPU owner ${fmt(100 * row.cpu_owner, 0)} % workers ${fmt(100 * row.cpu_workers, 0)} %; RSS owner ${fmt(row.rss_owner_mb, 0)} MB workers ${fmt(row.rss_workers_mb, 0)} MB; ${stages.text} -> ${ok ? 'sustained' : 'NOT sustained'}`);
    if (!ok) break;
    best = row;
  }
  console.log(`\nlargest N sustained (no chunk refused, answer p99 <= ${TARGET_P99_MS} ms, sent on time): ${best ? best.devices : 'none of the steps'}`);
  if (best && rows.length > 1) console.log(`RSS per streaming device (owner, between the first and the last sustained step): ${fmt(((best.rss_owner_mb - rows[0].rss_owner_mb) * 1024) / (best.devices - rows[0].devices), 1)} KB`);
  console.log(JSON.stringify({ steps: rows, best: best?.devices ?? 0 }));
} finally {
  await stop(gw);
  rmSync(dataDir, { recursive: true, force: true });
}

function runDriver(n) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [join(ROOT, 'bench', 'stream', 'driver.mjs'), url, ...CLIENT, String(n), String(STEP_SEC), String(WARM_SEC)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (b) => (out += b));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`driver exited ${code}: ${out}`))));
  });
}

/** GET /metrics as {name{labels}: value}; empty when the gateway has no metrics endpoint. */
async function scrape() {
  try {
    const r = await admin('/metrics');
    if (r.status !== 200) return {};
    const m = {};
    for (const line of (await r.text()).split('\n')) {
      if (!line || line.startsWith('#')) continue;
      const i = line.lastIndexOf(' ');
      m[line.slice(0, i)] = Number(line.slice(i + 1));
    }
    return m;
  } catch {
    return {};
  }
}

/** The mean of each histogram the gateway keeps (sum/count deltas over the step): time per request or run, windows per model run. */
function stageCosts(a, b) {
  const out = {};
  for (const k of Object.keys(b)) {
    const m = /^(caredian_[a-z_]+)_sum(\{.*\})?$/.exec(k);
    if (!m) continue;
    const count = k.replace('_sum', '_count');
    const dn = (b[count] ?? 0) - (a[count] ?? 0);
    const mean = ((b[k] ?? 0) - (a[k] ?? 0)) / dn;
    if (dn > 0) out[`${m[1]}${m[2] ?? ''}`] = m[1].endsWith('_seconds') ? { count: dn, mean_ms: 1000 * mean } : { count: dn, mean };
  }
  const text = Object.entries(out).map(([k, v]) => `${k.replace('caredian_', '').replace(/_seconds/, '')} ${v.mean_ms === undefined ? fmt(v.mean, 1) : `${fmt(v.mean_ms, 2)} ms`} x${v.count}`).join(', ');
  return { ...out, text: text ? `stages: ${text}` : 'no /metrics' };
}
