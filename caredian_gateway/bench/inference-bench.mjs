// npm run bench:inference: the fall model on one core (one ONNX thread, `taskset -c 0` when
// available). Unbatched (one window per session run), batched (64 and 256 windows a run), and the
// whole runtime path (timeline + batching + decisions) for 1,000 devices sending 0.5 s chunks.
// Prints windows/s, latency per window (p50/p99) and resident memory.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, fmt } from './lib.mjs';

if (!process.env.CAREDIAN_PINNED) {
  try {
    execFileSync('taskset', ['-c', '0', process.execPath, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, CAREDIAN_PINNED: '1' } });
    process.exit(0);
  } catch (err) {
    if (err.code !== 'ENOENT') process.exit(err.status ?? 1);
  }
}
const { OnnxWindowModel } = await import(join(ROOT, 'dist/inference/window-model.js'));
const { readModelMeta, metaPathFor } = await import(join(ROOT, 'dist/inference/model-meta.js'));
const { DEFAULT_MODEL_PATH } = await import(join(ROOT, 'dist/inference/inference-module.js'));
const { FallInference } = await import(join(ROOT, 'dist/inference/fall-inference.js'));
const { FallDecider } = await import(join(ROOT, 'dist/inference/fall-decider.js'));

const mb = () => process.memoryUsage().rss / 1048576;
const rssBefore = mb();
const meta = readModelMeta(metaPathFor(DEFAULT_MODEL_PATH));
const model = await OnnxWindowModel.load(DEFAULT_MODEL_PATH, meta, { threads: 1 });
const rssLoaded = mb();
const W = meta.window_samples * meta.channels.length;
const sample = (i) => [0.05 * Math.sin(i / 7), -1 + 0.1 * Math.sin(i / 3), 0.05 * Math.cos(i / 5)];
const windowData = (n) => {
  const d = new Float32Array(n * W);
  for (let i = 0; i < d.length; i += 3) d.set(sample(i / 3 + Math.random() * 10), i);
  return d;
};
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)];

async function batched(batch, seconds) {
  const data = windowData(batch);
  for (let i = 0; i < 20; i++) await model.scoreBatch(data, batch);
  const lat = [];
  const end = performance.now() + seconds * 1000;
  let windows = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    const s = performance.now();
    await model.scoreBatch(data, batch);
    lat.push((performance.now() - s) / batch);
    windows += batch;
  }
  return { windows_per_s: windows / ((performance.now() - t0) / 1000), p50_ms: pct(lat, 0.5), p99_ms: pct(lat, 0.99) };
}

async function fleet(devices, seconds) {
  const decider = new FallDecider({ ...{ threshold: meta.decision.threshold, smoothK: meta.decision.smooth_k, sustainK: meta.decision.sustain_k }, cooldownSec: 300, mode: 'model_only', andWindowSec: 10 });
  const inf = new FallInference(meta, model, decider);
  const hop = meta.hop_samples;
  const rate = meta.sample_rate_hz;
  const chunk = (k) => Array.from({ length: hop }, (_, i) => sample(k * hop + i));
  // Fill every device's window first, then time rounds of one hop per device.
  const fill = Math.ceil(meta.window_samples / hop);
  for (let k = 0; k < fill; k++) await Promise.all(Array.from({ length: devices }, (_, d) => inf.ingest(`d${d}`, { t0: 1.7e9 + (k * hop) / rate, rateHz: rate, acc: chunk(k) }, 1.7e9)));
  const lat = [];
  let windows = 0;
  let k = fill;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const s = performance.now();
    const outs = await Promise.all(Array.from({ length: devices }, (_, d) => inf.ingest(`d${d}`, { t0: 1.7e9 + (k * hop) / rate, rateHz: rate, acc: chunk(k) }, 1.7e9)));
    lat.push(performance.now() - s);
    windows += outs.reduce((a, o) => a + o.windows, 0);
    k++;
  }
  const secs = (performance.now() - t0) / 1000;
  return { windows_per_s: windows / secs, round_p50_ms: pct(lat, 0.5), round_p99_ms: pct(lat, 0.99), hop_s: hop / rate };
}

const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const r1 = await batched(1, seconds);
const r64 = await batched(64, seconds);
const r256 = await batched(256, seconds);
const runsBefore = model.stats.runs;
const windowsBefore = model.stats.windows;
const rf = await fleet(1000, seconds * 2);
const rssEnd = mb();
console.log(`model ${meta.name} ${meta.version}: ${meta.window_samples} samples x ${meta.channels.length} channels, hop ${meta.hop_samples}; one ONNX thread${process.env.CAREDIAN_PINNED ? ', pinned to CPU 0' : ''}; ${seconds} s per run`);
console.log(`unbatched (1 window per run):   ${fmt(r1.windows_per_s, 0)} windows/s, latency per window p50 ${fmt(r1.p50_ms, 3)} ms, p99 ${fmt(r1.p99_ms, 3)} ms`);
console.log(`batched (64 windows per run):   ${fmt(r64.windows_per_s, 0)} windows/s, per window p50 ${fmt(r64.p50_ms, 3)} ms, p99 ${fmt(r64.p99_ms, 3)} ms`);
console.log(`batched (256 windows per run):  ${fmt(r256.windows_per_s, 0)} windows/s, per window p50 ${fmt(r256.p50_ms, 3)} ms, p99 ${fmt(r256.p99_ms, 3)} ms`);
console.log(`runtime path, 1,000 devices each sending ${rf.hop_s} s chunks: ${fmt(rf.windows_per_s, 0)} windows/s (timeline + batched model + decisions); one round of all devices p50 ${fmt(rf.round_p50_ms, 1)} ms, p99 ${fmt(rf.round_p99_ms, 1)} ms (real time allows ${rf.hop_s * 1000} ms)`);
console.log(`resident memory: ${fmt(rssBefore, 0)} MiB before loading, ${fmt(rssLoaded, 0)} MiB with the model loaded, ${fmt(rssEnd, 0)} MiB after the runs (1,000 device buffers)`);
console.log(`runtime path: ${model.stats.windows - windowsBefore} windows in ${model.stats.runs - runsBefore} session runs (${fmt((model.stats.windows - windowsBefore) / (model.stats.runs - runsBefore), 0)} windows per run on average)`);
await model.close();
