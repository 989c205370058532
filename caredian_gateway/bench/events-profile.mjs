// npm run bench:events-profile: one gateway (InfluxDB configured unless BENCH_INFLUX=0), the events
// bench's load (wrk -t1 -c32, the seed's body) for BENCH_SECONDS (10) after 3 s of warm-up, and
// what the gateway's own GET /metrics says about it: requests/s, latency, CPU per fall report (and
// its kernel part), the mean durable-commit wait and minor-GC time. BENCH_RUNS (1) repeats it with
// a fresh gateway each time; BENCH_WORKERS sets INGEST_WORKERS; BENCH_GATEWAY_NODE_ARGS adds node
// options (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof). For A/B comparisons of one change: run it
// alternately on both builds, on a quiet machine.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Influxd, freePort } from '../dist/devtools/influxd.js';
import { ROOT, need, spawnLogged, waitHttp, stop, token, wrk, fmt, gatewayArgs, gatewayEnv } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const ADMIN = 'bench-admin-token-0123456789';
const CLIENT = ['esp32-01', 'S3cr3t_Long_Random'];
need('wrk', 'apt-get install -y wrk');

const parse = (text) => Object.fromEntries(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => [l.slice(0, l.lastIndexOf(' ')), Number(l.slice(l.lastIndexOf(' ') + 1))]));

async function once(influxd) {
  const dataDir = mkdtempSync(join(tmpdir(), 'caredian-profile-'));
  const [port, adminPort] = [await freePort(), await freePort()];
  const gw = spawnLogged(process.execPath, gatewayArgs(), gatewayEnv({
    CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json', HOST: '127.0.0.1', PORT: String(port), INGRESS_PORT: String(adminPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn', ADMIN_TOKEN: ADMIN,
    CC_CLIENTS_JSON: JSON.stringify({ [CLIENT[0]]: { secret: CLIENT[1], devices: ['esp32-*'] } }),
    ...(influxd ? { INFLUX_URL: influxd.url, INFLUX_DB: 'gateway' } : {}),
    ...(process.env.BENCH_WORKERS !== undefined ? { INGEST_WORKERS: process.env.BENCH_WORKERS } : {}),
  }));
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitHttp(`${url}/health`);
    const load = { connections: 32, script: join(ROOT, 'bench', 'wrk-post.lua'), env: { BENCH_TOKEN: await token(url, ...CLIENT) } };
    const metrics = async () => parse(await (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { headers: { Authorization: `Bearer ${ADMIN}` } })).text());
    await wrk(`${url}/events/fall`, { ...load, seconds: 3 });
    const a = await metrics();
    const r = await wrk(`${url}/events/fall`, { ...load, seconds: SECONDS });
    const b = await metrics();
    // n/a for a series this gateway does not have under that name (with workers, per-process metrics carry a label).
    const d = (k) => (k in b ? b[k] - (a[k] ?? 0) : NaN);
    const commits = d('caredian_event_log_commit_duration_seconds_count');
    return {
      rps: r.rps, p50: r.p50, p90: r.p90, p99: r.p99,
      cpuUsPerReport: (1e6 * d('process_cpu_seconds_total')) / r.total,
      systemUsPerReport: (1e6 * d('process_cpu_system_seconds_total')) / r.total,
      commitMeanMs: commits ? (1000 * d('caredian_event_log_commit_duration_seconds_sum')) / commits : NaN,
      minorGcSeconds: d('nodejs_gc_duration_seconds_sum{kind="minor"}'),
    };
  } finally {
    await stop(gw);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const influxd = process.env.BENCH_INFLUX === '0' ? undefined : await Influxd.create();
try {
  console.log(`# gateway: node ${gatewayArgs().join(' ')}; wrk -t1 -c32 -d${SECONDS}s; InfluxDB ${influxd ? 'configured' : 'not configured'}; device-port workers ${process.env.BENCH_WORKERS ?? 'default'}`);
  for (let i = 1; i <= RUNS; i++) {
    const x = await once(influxd);
    console.log(`run ${i}: ${fmt(x.rps, 0)} req/s  p50 ${fmt(x.p50, 2)}  p90 ${fmt(x.p90, 2)}  p99 ${fmt(x.p99, 2)} ms  CPU ${fmt(x.cpuUsPerReport, 0)} µs a report (system ${fmt(x.systemUsPerReport, 0)})  commit mean ${fmt(x.commitMeanMs, 2)} ms  minor GC ${fmt(x.minorGcSeconds, 2)} s`);
  }
} finally {
  await influxd?.destroy();
}
