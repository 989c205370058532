// npm run bench: the same POST /events/fall load against the seed design (FastAPI, one synchronous
// InfluxDB write per event) and this gateway, alternating, on one InfluxDB. Prints requests/s,
// p50/p99 latency, and events stored vs acknowledged for both; and, as a reference, the same load
// on a bare node:http server that does no work (bench/floor-server.mjs): the latency floor here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { Influxd, freePort } from '../dist/devtools/influxd.js';
import { ROOT, SHARED, need, spawnLogged, waitHttp, stop, token, wrk, fmt, gatewayArgs, gatewayEnv } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CLIENT = ['esp32-01', 'S3cr3t_Long_Random'];

need('wrk', 'apt-get install -y wrk');
const seedRun = join(SHARED, 'peers', 'seed_fastapi', 'run.sh');
need('/usr/bin/python3', 'the seed peer needs Debian python3');

const influxd = await Influxd.create();
const dataDir = mkdtempSync(join(tmpdir(), 'caredian-bench-'));
const procs = [];
try {
  const seedPort = await freePort();
  const seed = spawnLogged('sh', [seedRun], { INFLUX_URL: influxd.url, INFLUX_DB: 'seed', PORT: String(seedPort), WORKERS: '2', CC_CLIENTS_JSON: JSON.stringify({ [CLIENT[0]]: CLIENT[1] }) });
  procs.push(seed);
  await fetch(`${influxd.url}/query?q=${encodeURIComponent('CREATE DATABASE seed')}`, { method: 'POST' });
  const [gwPort, adminPort] = [await freePort(), await freePort()];
  const gw = spawnLogged(process.execPath, gatewayArgs(), gatewayEnv({
    CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json',
    HOST: '127.0.0.1', PORT: String(gwPort), INGRESS_PORT: String(adminPort), DATA_DIR: dataDir, LOG_LEVEL: 'warn',
    ADMIN_TOKEN: 'bench-admin-token-0123456789', INFLUX_URL: influxd.url, INFLUX_DB: 'gateway',
    CC_CLIENTS_JSON: JSON.stringify({ [CLIENT[0]]: { secret: CLIENT[1], devices: ['esp32-*'] } }),
    ...(process.env.BENCH_WORKERS !== undefined ? { INGEST_WORKERS: process.env.BENCH_WORKERS } : {}),
  }));
  procs.push(gw);
  const floorPort = await freePort();
  const floor = spawnLogged(process.execPath, [join(ROOT, 'bench', 'floor-server.mjs')], gatewayEnv({ PORT: String(floorPort) }));
  procs.push(floor);
  const targets = {
    seed: { url: `http://127.0.0.1:${seedPort}`, db: 'seed' },
    gateway: { url: `http://127.0.0.1:${gwPort}`, db: 'gateway' },
  };
  try {
    await waitHttp(`${targets.seed.url}/health`);
  } catch (e) {
    throw new Error(`seed peer did not start (apt-get install -y python3-fastapi python3-uvicorn python3-jwt python3-requests python3-cryptography): ${seed.out}`);
  }
  await waitHttp(`${targets.gateway.url}/health`);
  await waitHttp(`http://127.0.0.1:${floorPort}/`);
  const floorUrl = `http://127.0.0.1:${floorPort}/events/fall`;
  for (const t of Object.values(targets)) t.token = await token(t.url, ...CLIENT);

  const count = async (db) => {
    const r = await (await fetch(`${influxd.url}/query?db=${db}&q=${encodeURIComponent('SELECT count("prob") FROM "fall_events"')}`)).json();
    return r.results[0].series?.[0].values[0][1] ?? 0;
  };
  console.log(`# ${cpus().length} cores (${cpus()[0]?.model}), device-port workers: ${process.env.BENCH_WORKERS ?? 'default (one per core, up to 4, with 4 cores or more)'}, wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds alternating, InfluxDB ${influxd.url}`);
  // Uncounted warm-up (JIT, connection pools) for both, so round 1 measures steady state.
  for (const t of Object.values(targets)) await wrk(`${t.url}/events/fall`, { connections: CONNECTIONS, seconds: 3, script: join(ROOT, 'bench', 'wrk-post.lua'), env: { BENCH_TOKEN: t.token } });
  const drained = async () => {
    const end = Date.now() + 60_000;
    for (;;) {
      const st = await (await fetch(`http://127.0.0.1:${adminPort}/api/status`, { headers: { Authorization: 'Bearer bench-admin-token-0123456789' } })).json();
      if (st.checks.influxdb.backlog === 0 || Date.now() > end) return;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await drained();
  const baseline = { seed: await count('seed'), gateway: await count('gateway') };
  const runs = { seed: [], gateway: [], floor: [] };
  await wrk(floorUrl, { connections: CONNECTIONS, seconds: 3, script: join(ROOT, 'bench', 'wrk-post.lua'), env: { BENCH_TOKEN: 'none' } });
  for (let round = 1; round <= ROUNDS; round++) {
    for (const name of ['seed', 'gateway', 'floor']) {
      const url = name === 'floor' ? floorUrl : `${targets[name].url}/events/fall`;
      const r = await wrk(url, { connections: CONNECTIONS, seconds: SECONDS, script: join(ROOT, 'bench', 'wrk-post.lua'), env: { BENCH_TOKEN: targets[name]?.token ?? 'none' } });
      runs[name].push(r);
      console.log(`round ${round} ${name.padEnd(8)} ${fmt(r.rps, 0).padStart(7)} req/s  p50 ${fmt(r.p50, 2)} ms  p99 ${fmt(r.p99, 2)} ms  2xx ${r.ok}  non-2xx ${r.non2xx}  socket errors ${r.socketErrors}`);
    }
  }
  // Let the gateway's writer drain before counting what InfluxDB holds.
  const gwAcked = runs.gateway.reduce((n, r) => n + r.ok, 0);
  const seedAcked = runs.seed.reduce((n, r) => n + r.ok, 0);
  await drained();

  const summary = {};
  for (const name of ['seed', 'gateway']) {
    const rs = runs[name];
    const acked = name === 'seed' ? seedAcked : gwAcked;
    summary[name] = {
      rps: rs.reduce((a, r) => a + r.rps, 0) / rs.length,
      p50: Math.max(...rs.map((r) => r.p50)),
      p99: Math.max(...rs.map((r) => r.p99)),
      acked,
      stored: (await count(targets[name].db)) - baseline[name],
    };
  }
  console.log('\n| | requests/s (mean) | p50 ms (worst round) | p99 ms (worst round) | acknowledged | stored in InfluxDB |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const [name, s] of Object.entries(summary)) console.log(`| ${name} | ${fmt(s.rps, 0)} | ${fmt(s.p50, 2)} | ${fmt(s.p99, 2)} | ${s.acked} | ${s.stored} |`);
  const ratio = summary.gateway.rps / summary.seed.rps;
  const g = summary.gateway;
  const inFlight = g.stored - g.acked;
  console.log(`\nthroughput ratio gateway/seed: ${fmt(ratio, 1)}x (target >= 30x); gateway p99 ${fmt(g.p99, 2)} ms (target <= 10 ms)`);
  console.log(`gateway: ${g.stored} stored for ${g.acked} acknowledged; the ${inFlight} extra were in flight when wrk stopped (processed, not counted by wrk; at most ${CONNECTIONS * ROUNDS}): ${inFlight >= 0 && inFlight <= CONNECTIONS * ROUNDS ? 'nothing lost' : 'MISMATCH'}`);
  console.log(`seed: ${summary.seed.stored} stored for ${summary.seed.acked} acknowledged (${fmt(100 * (1 - summary.seed.stored / summary.seed.acked), 1)}% overwritten by same-second writes)`);
  const fl = runs.floor;
  const floorSummary = { rps: fl.reduce((a, r) => a + r.rps, 0) / fl.length, p50: Math.max(...fl.map((r) => r.p50)), p99: Math.max(...fl.map((r) => r.p99)), p99s: fl.map((r) => r.p99) };
  console.log(`floor (bench/floor-server.mjs: node:http answering the same request, doing nothing else): ${fmt(floorSummary.rps, 0)} req/s, p50 ${fmt(floorSummary.p50, 2)} ms, p99 per round ${floorSummary.p99s.map((v) => fmt(v, 2)).join(' / ')} ms`);
  console.log(JSON.stringify({ summary, ratio, floor: floorSummary }));
} finally {
  for (const p of procs.reverse()) await stop(p);
  await influxd.destroy();
  rmSync(dataDir, { recursive: true, force: true });
}
