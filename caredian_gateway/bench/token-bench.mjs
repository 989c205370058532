// node bench/token-bench.mjs: does a flood of failed token requests stall event ingest?
// Drives POST /events/fall at a steady pace (BENCH_INGEST_CONCURRENCY requests in flight) for
// BENCH_SECONDS alone, then again while BENCH_ADDRESSES loopback source addresses (127.0.1.x) each
// send BENCH_FAILS failed token requests (unknown client ids, BENCH_ATTACK_CONCURRENCY in flight
// per address). Prints the ingest latency percentiles of both phases and the token answers.
// BENCH_DIST=<folder with main.js> measures another build (default: dist/).
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../dist/devtools/influxd.js';
import { ROOT, spawnLogged, waitHttp, stop, token, fmt } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ADDRESSES = Number(process.env.BENCH_ADDRESSES ?? 40);
const FAILS = Number(process.env.BENCH_FAILS ?? 30);
const ATTACK_CONCURRENCY = Number(process.env.BENCH_ATTACK_CONCURRENCY ?? 5);
const INGEST_CONCURRENCY = Number(process.env.BENCH_INGEST_CONCURRENCY ?? 4);
const DIST = process.env.BENCH_DIST ?? join(ROOT, 'dist');
const CLIENT = ['esp32-01', 'S3cr3t_Long_Random'];

function send(port, { path, body, headers, localAddress }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', localAddress, headers: { ...headers, 'Content-Length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', () => resolve({ status: 0, ms: performance.now() - t0 }));
    req.end(body);
  });
}

async function ingestFor(port, bearer, seconds) {
  const end = Date.now() + seconds * 1000;
  const lat = [];
  const bad = {};
  let n = 0;
  const lane = async () => {
    while (Date.now() < end) {
      // The device id is the client's own: the gateway may refuse events for other devices.
      const body = JSON.stringify({ device_id: CLIENT[0], location: 'living_room', event: 'fall', prob: 0.91 });
      n++;
      const r = await send(port, { path: '/events/fall', body, headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${bearer}` } });
      if (r.status < 200 || r.status > 299) bad[r.status] = (bad[r.status] ?? 0) + 1;
      lat.push(r.ms);
    }
  };
  await Promise.all(Array.from({ length: INGEST_CONCURRENCY }, lane));
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))];
  return { count: lat.length, bad, p50: pct(50), p99: pct(99), max: lat[lat.length - 1] };
}

async function attack(port) {
  const statuses = {};
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: ADDRESSES }, async (_, a) => {
      const localAddress = `127.0.1.${a + 1}`;
      let left = FAILS;
      const lane = async () => {
        while (left-- > 0) {
          const id = `nobody-${a}-${left}`;
          const body = new URLSearchParams({ grant_type: 'client_credentials' }).toString();
          const r = await send(port, { path: '/auth/cc/token', body, localAddress, headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`${id}:wrong-secret-${left}`).toString('base64')}` } });
          statuses[r.status] = (statuses[r.status] ?? 0) + 1;
        }
      };
      await Promise.all(Array.from({ length: ATTACK_CONCURRENCY }, lane));
    }),
  );
  return { statuses, seconds: (performance.now() - t0) / 1000 };
}

const dataDir = mkdtempSync(join(tmpdir(), 'caredian-token-bench-'));
let gw;
try {
  const [port, adminPort] = [await freePort(), await freePort()];
  gw = spawnLogged(process.execPath, [join(DIST, 'main.js')], {
    CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json',
    HOST: '127.0.0.1', PORT: String(port), INGRESS_PORT: String(adminPort), DATA_DIR: dataDir, LOG_LEVEL: 'error',
    ADMIN_TOKEN: 'bench-admin-token-0123456789', CC_CLIENTS_JSON: JSON.stringify({ [CLIENT[0]]: CLIENT[1] }),
  });
  await waitHttp(`http://127.0.0.1:${port}/health`);
  const bearer = await token(`http://127.0.0.1:${port}`, ...CLIENT);
  console.log(`# ${cpus().length} cores, ${DIST}, ingest ${INGEST_CONCURRENCY} in flight, attack ${ADDRESSES} addresses x ${FAILS} failed token requests (${ATTACK_CONCURRENCY} in flight each)`);
  await ingestFor(port, bearer, 2); // warm-up, uncounted
  const quiet = await ingestFor(port, bearer, SECONDS);
  console.log(`ingest alone        ${String(quiet.count).padStart(6)} req  p50 ${fmt(quiet.p50, 2)} ms  p99 ${fmt(quiet.p99, 2)} ms  max ${fmt(quiet.max, 1)} ms  non-2xx ${JSON.stringify(quiet.bad)}`);
  const [loaded, a] = await Promise.all([ingestFor(port, bearer, SECONDS), attack(port)]);
  console.log(`ingest under attack ${String(loaded.count).padStart(6)} req  p50 ${fmt(loaded.p50, 2)} ms  p99 ${fmt(loaded.p99, 2)} ms  max ${fmt(loaded.max, 1)} ms  non-2xx ${JSON.stringify(loaded.bad)}`);
  console.log(`token answers ${JSON.stringify(a.statuses)} in ${fmt(a.seconds, 1)} s`);
} finally {
  await stop(gw);
  rmSync(dataDir, { recursive: true, force: true });
}
