// npm run bench:proxy: requests/s and latency calling an upstream directly vs through the gateway's
// /proxy (API key only, and API key + signed X-Auth-Token), alternating, same run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { freePort } from '../dist/devtools/influxd.js';
import { ROOT, need, spawnLogged, waitHttp, stop, wrk, fmt, gatewayArgs, gatewayEnv } from './lib.mjs';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const KEY = 'bench-api-key-0123456789abcdef';
const BODY = JSON.stringify({ text: '오늘 날씨가 좋네요 바보 아니에요', lang: 'ko' });
need('wrk', 'apt-get install -y wrk');

const dir = mkdtempSync(join(tmpdir(), 'caredian-proxy-bench-'));
const procs = [];
try {
  const upPort = await freePort();
  procs.push(spawnLogged(process.execPath, [join(ROOT, 'bench', 'upstream.mjs'), String(upPort)]));
  const [gwPort, adminPort] = [await freePort(), await freePort()];
  procs.push(spawnLogged(process.execPath, gatewayArgs(), gatewayEnv({
    CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json', HOST: '127.0.0.1', PORT: String(gwPort), INGRESS_PORT: String(adminPort),
    DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'warn', ADMIN_TOKEN: 'bench-admin-token-0123456789',
    API_KEYS_JSON: JSON.stringify({ bench: KEY }),
    PROXY_UPSTREAMS_JSON: JSON.stringify({ plain: { url: `http://127.0.0.1:${upPort}/analyze`, require_signature: false }, signed: { url: `http://127.0.0.1:${upPort}/analyze` } }),
  })));
  await waitHttp(`http://127.0.0.1:${upPort}/`);
  await waitHttp(`http://127.0.0.1:${gwPort}/health`);

  // Unique signed tokens for the signed runs (iat now: valid for 300 s).
  const secret = new TextEncoder().encode(KEY);
  const bh = createHash('sha256').update(BODY).digest('base64url');
  async function tokensFile(count) {
    const iat = Math.floor(Date.now() / 1000);
    const lines = [];
    for (let i = 0; i < count; i++) lines.push(await new SignJWT({ bh, htm: 'POST', htu: '/proxy/signed' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt(iat).setJti(randomUUID()).sign(secret));
    const f = join(dir, `tokens-${Date.now()}.txt`);
    writeFileSync(f, lines.join('\n') + '\n');
    return f;
  }
  const script = join(ROOT, 'bench', 'wrk-proxy.lua');
  const targets = {
    direct: { url: `http://127.0.0.1:${upPort}/analyze`, env: {} },
    'proxy (key)': { url: `http://127.0.0.1:${gwPort}/proxy/plain`, env: { BENCH_KEY: KEY } },
    'proxy (key + signature)': { url: `http://127.0.0.1:${gwPort}/proxy/signed`, env: { BENCH_KEY: KEY }, signed: true },
  };
  const run = async (t, connections, seconds) => {
    const env = { BENCH_BODY: BODY, ...t.env };
    if (t.signed) env.BENCH_TOKENS = await tokensFile(Math.ceil(seconds * 15000));
    const r = await wrk(t.url, { connections, seconds, script, env });
    if (r.non2xx) throw new Error(`${t.url}: ${r.non2xx} non-2xx responses`);
    return r;
  };
  console.log(`# ${cpus().length} cores (${cpus()[0]?.model}), wrk -t1, ${ROUNDS} rounds alternating, ${SECONDS} s each`);
  for (const t of Object.values(targets)) await run(t, 8, 2); // warm-up, uncounted
  const results = {};
  for (const [mode, connections] of [['latency', 1], ['throughput', 32]]) {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, t] of Object.entries(targets)) {
        const r = await run(t, connections, SECONDS);
        (results[`${mode}|${name}`] ??= []).push(r);
        console.log(`${mode.padEnd(10)} c=${String(connections).padEnd(2)} round ${round} ${name.padEnd(24)} ${fmt(r.rps, 0).padStart(7)} req/s  p50 ${fmt(r.p50, 3)} ms  p99 ${fmt(r.p99, 3)} ms`);
      }
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const agg = (k) => ({ rps: results[k].reduce((a, r) => a + r.rps, 0) / results[k].length, p50: med(results[k].map((r) => r.p50)), p99: med(results[k].map((r) => r.p99)) });
  console.log('\n| | c=1 p50 ms | c=1 p99 ms | added p50 ms (c=1) | c=32 req/s | share of direct |');
  console.log('|---|---:|---:|---:|---:|---:|');
  const direct = { lat: agg('latency|direct'), thr: agg('throughput|direct') };
  for (const name of Object.keys(targets)) {
    const lat = agg(`latency|${name}`);
    const thr = agg(`throughput|${name}`);
    console.log(`| ${name} | ${fmt(lat.p50, 3)} | ${fmt(lat.p99, 3)} | ${name === 'direct' ? '—' : fmt(lat.p50 - direct.lat.p50, 3)} | ${fmt(thr.rps, 0)} | ${fmt((100 * thr.rps) / direct.thr.rps, 0)} % |`);
  }
  console.log('\ntargets: added p50 <= 1 ms; >= 70 % of direct throughput');
} finally {
  for (const p of procs.reverse()) await stop(p);
  rmSync(dir, { recursive: true, force: true });
}
