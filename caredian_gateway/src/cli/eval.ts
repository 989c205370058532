// npm run eval -- --data <dir> [--model models/fallnet.onnx] [--subjects SA05,SE05] [--chunk-sec 1]
//   [--threshold x --smooth-k n --sustain-k n] [--held-out] [--json] [--write-metrics]
// Streams every trial of a SisFall-layout folder through the gateway's IMU runtime and prints
// trial-level sensitivity, specificity, false alarms per hour of daily activity and decision delay.
// --write-metrics records the figures in the model's metadata (`metrics.held_out` or
// `metrics.all_subjects`), with the model's own knobs only.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_PATH } from '../inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../inference/model-meta.js';
import { OnnxWindowModel } from '../inference/window-model.js';
import { evaluate, summarise, type Summary, type TrialResult } from '../eval/evaluate.js';
import { listTrials, readTrial } from '../eval/trials.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string', default: DEFAULT_MODEL_PATH },
    subjects: { type: 'string' },
    'held-out': { type: 'boolean', default: false },
    'chunk-sec': { type: 'string', default: '1' },
    threshold: { type: 'string' },
    'smooth-k': { type: 'string' },
    'sustain-k': { type: 'string' },
    json: { type: 'boolean', default: false },
    'write-metrics': { type: 'boolean', default: false },
  },
});
if (!a.data) {
  console.error('usage: npm run eval -- --data <dir> [--model file.onnx] [--subjects SA05,SE05 | --held-out] [--chunk-sec 1] [--threshold x] [--smooth-k n] [--sustain-k n] [--json] [--write-metrics]');
  process.exit(2);
}
if (a['write-metrics'] && (a.threshold || a['smooth-k'] || a['sustain-k'] || a.subjects || a['chunk-sec'] !== '1')) {
  console.error('--write-metrics records the model as shipped: its own knobs, 1 s chunks, all subjects or --held-out');
  process.exit(2);
}
const chunkSec = Number(a['chunk-sec']);
const meta = readModelMeta(metaPathFor(a.model));
let subjects = a.subjects?.split(',').map((s) => s.trim());
if (a['held-out']) subjects = (meta.training?.held_out_subjects as string[] | undefined) ?? [];
const settings = {
  ...(a.threshold ? { threshold: Number(a.threshold) } : {}),
  ...(a['smooth-k'] ? { smoothK: Number(a['smooth-k']) } : {}),
  ...(a['sustain-k'] ? { sustainK: Number(a['sustain-k']) } : {}),
};
const list = listTrials(a.data, { subjects });
const model = await OnnxWindowModel.load(a.model, meta);
const started = performance.now();
const results = await evaluate(model, meta, (function* () {
  for (const t of list) yield readTrial(t, meta.sample_rate_hz);
})(), { settings, chunkSec });
const seconds = (performance.now() - started) / 1000;
await model.close();

const groups: [string, TrialResult[]][] = [
  ['all', results],
  ['adults (SA)', results.filter((r) => r.subject.startsWith('SA'))],
  ['elderly (SE)', results.filter((r) => r.subject.startsWith('SE'))],
];
const report = Object.fromEntries(groups.filter(([, rs]) => rs.length).map(([g, rs]) => [g, summarise(rs)]));
const misses = results.filter((r) => r.fall && !r.decisions.length).map((r) => r.name);
const alarms = results.filter((r) => !r.fall && r.decisions.length).map((r) => r.name);
if (a['write-metrics']) {
  const path = metaPathFor(a.model);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { metrics?: Record<string, unknown> };
  const round = (x: number, d: number) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
  const delays = (d: Summary['delay']) => ({ median: round(d.median, 2), p95: round(d.p95, 2), max: round(d.max, 2), over_2s: d.over2s });
  const figures = Object.fromEntries(Object.entries(report).map(([g, s]) => [g, {
    ...(s.fallTrials ? { sensitivity: round(s.sensitivity, 4), detected: s.detected, fall_trials: s.fallTrials } : {}),
    ...(s.adlTrials ? { specificity: round(s.specificity, 4), adl_trials: s.adlTrials, adl_hours: round(s.adlHours, 3), false_alarms: s.falseAlarms, false_alarms_per_hour: round(s.falseAlarmsPerHour, 3) } : {}),
    ...(s.detected ? { delay_sec: delays(s.delay), delay_by_chunk_sec: delays(s.delayByChunk) } : {}),
  }]));
  raw.metrics = { ...(raw.metrics ?? {}), [a['held-out'] ? 'held_out' : 'all_subjects']: { subjects: subjects ?? 'all', chunk_sec: chunkSec, command: `npm run eval -- --data <sisfall50>${a['held-out'] ? ' --held-out' : ''}`, ...figures } };
  writeFileSync(path, JSON.stringify(raw, null, 2) + '\n');
}
if (a.json) {
  console.log(JSON.stringify({ model: meta.name, version: meta.version, data: a.data, subjects: subjects ?? 'all', chunk_sec: chunkSec, decision: { ...meta.decision, ...settings }, report, misses, false_alarms: alarms }, null, 2));
} else {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  console.log(`model ${meta.name} ${meta.version}; data ${a.data}; subjects ${subjects?.join(' ') ?? 'all'}; ${chunkSec} s chunks; threshold ${settings.threshold ?? meta.decision.threshold}, smoothK ${settings.smoothK ?? meta.decision.smooth_k}, sustainK ${settings.sustainK ?? meta.decision.sustain_k}`);
  console.log(`${results.length} trials, ${model.stats.windows} windows in ${model.stats.runs} batches, ${seconds.toFixed(1)} s`);
  for (const [g, s] of Object.entries(report) as [string, Summary][]) {
    console.log(`\n${g}`);
    if (s.fallTrials) console.log(`  sensitivity ${f(s.sensitivity)} (${s.detected}/${s.fallTrials} fall trials)`);
    if (s.adlTrials) console.log(`  specificity ${f(s.specificity, 4)} (${s.adlTrials - s.adlWithAlarm}/${s.adlTrials} ADL trials), false alarms ${s.falseAlarms} in ${f(s.adlHours, 2)} h = ${f(s.falseAlarmsPerHour, 2)} per hour`);
    if (s.detected) console.log(`  delay from impact to decision: median ${f(s.delay.median, 2)} s, p95 ${f(s.delay.p95, 2)} s, max ${f(s.delay.max, 2)} s, over 2 s: ${s.delay.over2s}; by the end of the ${chunkSec} s chunk carrying it: median ${f(s.delayByChunk.median, 2)} s, p95 ${f(s.delayByChunk.p95, 2)} s, max ${f(s.delayByChunk.max, 2)} s, over 2 s: ${s.delayByChunk.over2s}`);
  }
  if (misses.length) console.log(`\nmissed falls: ${misses.join(' ')}`);
  if (alarms.length) console.log(`false alarms: ${alarms.join(' ')}`);
}
