// npm run bench:memory: resident memory at rest (issue 19: ≤ 100 MB with the model loaded), the
// gateway started as the add-on starts it — the node options and MALLOC_ARENA_MAX of the s6 run
// script, an environment holding only what the container has (no NODE_* variables of the calling
// shell: NODE_EXTRA_CA_CERTS alone adds ~1.7 MB here), /data/options.json what the Supervisor
// writes at install (config.yaml's options: the embedded default, no InfluxDB, broker or Home
// Assistant). VmRSS of the process, sampled every 5 s; the
// figure is the largest sample from 30 s on (V8 is still shrinking its heap before that). Then the
// same with the calling shell's NODE_* variables, and the seed design (which loads no model) at rest.
// BENCH_SECONDS (default 120) per run, BENCH_SEED=0 skips the seed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { freePort } from '../dist/devtools/influxd.js';
import { ROOT, SHARED, addonCommandLine, seedRunnable, spawnLogged, stop, treeRssMb, waitHttp } from './lib.mjs';

const SECONDS = Math.max(35, Number(process.env.BENCH_SECONDS ?? 120));
const SETTLE_S = 30;
const TARGET_MB = 100;
function status(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

async function atRest(name, start, sample) {
  const p = await start();
  const samples = [];
  const began = Date.now();
  try {
    while (Date.now() - began < SECONDS * 1000) {
      await new Promise((r) => setTimeout(r, 5000));
      if (p.exitCode !== null) throw new Error(`${name} exited: ${p.out.slice(-2000)}`);
      samples.push({ s: Math.round((Date.now() - began) / 1000), ...sample(p.pid) });
    }
  } finally {
    await stop(p);
  }
  const settled = samples.filter((x) => x.s >= SETTLE_S);
  const max = Math.max(...settled.map((x) => x.rss));
  const min = Math.min(...settled.map((x) => x.rss));
  const at = (s) => samples.find((x) => x.s >= s);
  return { name, min, max, at30: at(30), last: samples.at(-1) };
}

function gateway(extraEnv) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caredian-memory-'));
    writeFileSync(join(dir, 'options.json'), JSON.stringify(parse(readFileSync(join(ROOT, 'config.yaml'), 'utf8')).options));
    const port = await freePort();
    // Only what the container's environment has (not merged with this process's).
    const clean = { PATH: process.env.PATH, HOME: dir, LANG: 'C.UTF-8', ...env, CAREDIAN_OPTIONS_PATH: join(dir, 'options.json'), DATA_DIR: join(dir, 'data'), PORT: String(port), INGRESS_PORT: String(await freePort()), HOST: '127.0.0.1', ...extraEnv };
    const q = spawnLogged(process.execPath, [...nodeArgs, join(ROOT, 'dist', 'main.js')], clean, { clean: true });
    q.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await waitHttp(`http://127.0.0.1:${port}/health`);
    return q;
  };
}

const fmt = (x) => x.toFixed(1);
const { nodeArgs, env } = addonCommandLine();
const callerNode = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('NODE_')));
console.log(`# node ${process.version}; the add-on's command line: ${Object.entries(env).map(([k, v]) => `${k}=${v} `).join('')}node ${nodeArgs.join(' ')} dist/main.js; ${SECONDS} s per run, figure = largest VmRSS from ${SETTLE_S} s on`);
const rows = [await atRest('gateway, the add-on\'s environment', gateway({}), status)];
if (Object.keys(callerNode).length) rows.push(await atRest(`gateway, + this shell's ${Object.keys(callerNode).join(', ')}`, gateway(callerNode), status));
if (process.env.BENCH_SEED === '0') console.log('seed: skipped (BENCH_SEED=0)');
else if (!seedRunnable()) console.log('seed: not run (apt-get install -y python3-fastapi python3-uvicorn python3-jwt python3-requests python3-cryptography)');
else {
  rows.push(
    await atRest('seed (FastAPI, 2 workers; loads no model)', async () => {
      const port = await freePort();
      const p = spawnLogged('sh', [join(SHARED, 'peers', 'seed_fastapi', 'run.sh')], { PORT: String(port), WORKERS: '2', INFLUX_URL: 'http://127.0.0.1:9' });
      await waitHttp(`http://127.0.0.1:${port}/health`);
      return p;
    }, (pid) => ({ rss: treeRssMb(pid), anon: NaN, file: NaN })),
  );
}
console.log('\n| process | VmRSS at 30 s | largest from 30 s | smallest from 30 s | at the end (anon / file) |');
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.name} | ${fmt(r.at30.rss)} | ${fmt(r.max)} | ${fmt(r.min)} | ${fmt(r.last.rss)} (${fmt(r.last.anon)} / ${fmt(r.last.file)}) |`);
const g = rows[0];
console.log(`\ngateway at rest (the add-on's environment): ${fmt(g.max)} MB (target ≤ ${TARGET_MB}): ${g.max <= TARGET_MB ? 'met' : 'NOT met'}`);
