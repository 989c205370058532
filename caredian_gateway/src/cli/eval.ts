// npm run eval -- --data <dir> [--model models/fallnet.onnx] [--datasets a,b] [--subjects SA05,SE05 | --held-out]
//   [--chunk-sec 1] [--threshold x --smooth-k n --sustain-k n] [--lodo [--lodo-dir models/lodo]] [--json] [--write-metrics]
// Streams every trial under <dir> (one dataset, or a folder of datasets: ../shared/datasets)
// through the gateway's IMU runtime at the trial's placement and prints trial-level sensitivity,
// specificity, false alarms per hour of daily activity and decision delay per dataset × placement:
// as the gateway decides there (the placement's detector and knobs), by the model alone and by the
// threshold detector alone. --lodo also runs each models/lodo/fallnet-without-<dataset> model on
// the dataset it never saw. --write-metrics records the figures in the model's metadata
// (`metrics.held_out` or `metrics.all_subjects`, and `metrics.leave_one_dataset_out`), with the
// model's own knobs only.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Placement } from '../config/schema.js';
import { DEFAULT_MODEL_PATH } from '../inference/inference-module.js';
import { loadModelFiles } from '../inference/model-files.js';
import { metaPathFor, readModelMeta, type ModelMeta } from '../inference/model-meta.js';
import { describeRule, modelFiles, type PlacementRules } from '../inference/placement-rules.js';
import { evaluate, evaluationRules, summarise, type Summary, type TrialResult } from '../eval/evaluate.js';
import { figures, rowFigures, rows, table, type Row } from '../eval/report.js';
import { listTrials, readTrial, type TrialRef } from '../eval/trials.js';

// A missing dataset, metadata that does not parse, a model file that does not match its sha256: one line, not a stack.
process.on('uncaughtException', (err) => {
  console.error(`eval: ${err.message}`);
  process.exit(1);
});

const USAGE =
  'usage: npm run eval -- --data <dir> [--model file.onnx] [--datasets a,b] [--subjects SA05,SE05 | --held-out] [--chunk-sec 1] [--threshold x] [--smooth-k n] [--sustain-k n] [--lodo] [--lodo-dir dir] [--json] [--write-metrics]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      data: { type: 'string' },
      model: { type: 'string', default: DEFAULT_MODEL_PATH },
      datasets: { type: 'string' },
      subjects: { type: 'string' },
      'held-out': { type: 'boolean', default: false },
      'chunk-sec': { type: 'string', default: '1' },
      threshold: { type: 'string' },
      'smooth-k': { type: 'string' },
      'sustain-k': { type: 'string' },
      lodo: { type: 'boolean', default: false },
      'lodo-dir': { type: 'string' },
      json: { type: 'boolean', default: false },
      'write-metrics': { type: 'boolean', default: false },
    },
  });
} catch (err) {
  console.error(`${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const a = parsed.values;
if (!a.data) {
  console.error(USAGE);
  process.exit(2);
}
if (a['write-metrics'] && (a.threshold || a['smooth-k'] || a['sustain-k'] || a.subjects || a.datasets || a['chunk-sec'] !== '1')) {
  console.error('--write-metrics records the model as shipped: its own knobs, 1 s chunks, all datasets, all subjects or --held-out');
  process.exit(2);
}
const chunkSec = Number(a['chunk-sec']);
const num = (name: string, v: string | undefined, int: boolean) => {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!Number.isFinite(x) || (int && (!Number.isInteger(x) || x < 1)) || (!int && (x < 0 || x > 1))) {
    console.error(`--${name}: ${int ? 'a whole number of at least 1' : 'a number from 0 to 1'}`);
    process.exit(2);
  }
  return x;
};
if (!(chunkSec > 0)) {
  console.error('--chunk-sec: a positive number of seconds');
  process.exit(2);
}
const settings = {
  ...(a.threshold !== undefined ? { threshold: num('threshold', a.threshold, false) } : {}),
  ...(a['smooth-k'] !== undefined ? { smoothK: num('smooth-k', a['smooth-k'], true) } : {}),
  ...(a['sustain-k'] !== undefined ? { sustainK: num('sustain-k', a['sustain-k'], true) } : {}),
};
const meta = readModelMeta(metaPathFor(a.model));
/** held_out_subjects: a list, or lists by dataset. */
const heldOut = (m: ModelMeta): string[] => {
  const h = m.training?.held_out_subjects;
  if (Array.isArray(h)) return h.map(String);
  if (h && typeof h === 'object') return Object.values(h).flatMap((v) => (Array.isArray(v) ? v.map(String) : []));
  return [];
};
let subjects = a.subjects?.split(',').map((s) => s.trim());
if (a['held-out']) subjects = heldOut(meta);
const datasets = a.datasets?.split(',').map((s) => s.trim());

interface Run {
  meta: ModelMeta;
  path: string;
  rules: PlacementRules;
  results: TrialResult[];
  skipped: number;
  windows: number;
  batches: number;
  seconds: number;
}

/** One model (and its per-placement files, each checked against its sha256) over the trials. */
async function runModel(path: string, m: ModelMeta, refs: TrialRef[]): Promise<Run> {
  const rules = evaluationRules(m, path, settings);
  const models = await loadModelFiles(m, modelFiles(m, rules, path, true), metaPathFor(path));
  let skipped = 0;
  const started = performance.now();
  const results = await evaluate(models.get(path)!, m, (function* () {
    for (const t of refs) {
      const trial = readTrial(t, m.sample_rate_hz);
      if (m.requires_gyro && !trial.gyro) skipped++;
      else yield trial;
    }
  })(), { settings, chunkSec, modelPath: path, models });
  const seconds = (performance.now() - started) / 1000;
  let windows = 0;
  let batches = 0;
  for (const x of models.values()) (windows += x.stats.windows), (batches += x.stats.runs), await x.close();
  return { meta: m, path, rules, results, skipped, windows, batches, seconds };
}

const shipped = await runModel(a.model, meta, listTrials(a.data, { subjects, datasets }));
const rule = (run: Run) => (p: Placement) => describeRule(run.rules[p], run.path);
const shippedRows = rows(shipped.results, rule(shipped));

// Leave-one-dataset-out: each model trained without one dataset, on that dataset (all its subjects).
const lodo: { runs: Run[]; rows: Row[]; missing: string[] } = { runs: [], rows: [], missing: [] };
if (a.lodo) {
  const dir = a['lodo-dir'] ?? join(dirname(a.model), 'lodo');
  const metas = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.meta.json')).sort() : [];
  if (!metas.length) {
    console.error(`--lodo: no leave-one-dataset-out models (*.meta.json) in ${dir}`);
    process.exit(2);
  }
  const present = new Set(listTrials(a.data, { datasets }).map((t) => t.dataset));
  for (const file of metas) {
    const m = readModelMeta(join(dir, file));
    const held = ((m.training?.held_out_datasets as unknown[] | undefined) ?? []).map(String).filter((d) => present.has(d));
    if (!held.length) {
      lodo.missing.push(file);
      continue;
    }
    const path = join(dir, m.file ?? file.replace(/\.meta\.json$/, '.onnx'));
    lodo.runs.push(await runModel(path, m, listTrials(a.data, { datasets: held })));
  }
  const byDataset = new Map(lodo.runs.flatMap((r) => [...new Set(r.results.map((x) => x.dataset))].map((d) => [d, r] as const)));
  lodo.rows = rows(lodo.runs.flatMap((r) => r.results), (p, d) => (d ? rule(byDataset.get(d)!)(p) : undefined));
}

const results = shipped.results;
const groups: [string, TrialResult[]][] = [
  ['all', results],
  ['adults (SA)', results.filter((r) => r.subject.startsWith('SA'))],
  ['elderly (SE)', results.filter((r) => r.subject.startsWith('SE'))],
];
const report = Object.fromEntries(groups.filter(([, rs]) => rs.length).map(([g, rs]) => [g, summarise(rs)]));
const misses = results.filter((r) => r.fall && !r.decisions.length).map((r) => r.key);
const alarms = results.filter((r) => !r.fall && r.decisions.length).map((r) => r.key);
const placementsOf = (run: Run) => Object.fromEntries(Object.entries(run.rules).map(([p, r]) => [p, describeRule(r, run.path)]));
const lodoModels = () => Object.fromEntries(lodo.runs.map((r) => [[...new Set(r.results.map((x) => x.dataset))].join(','), `${basename(r.path)} (${r.meta.name} ${r.meta.version})`]));

if (a['write-metrics']) {
  const path = metaPathFor(a.model);
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { metrics?: Record<string, unknown> };
  const data = `<${basename(a.data)}>`;
  const groupFigures = Object.fromEntries(Object.entries(report).map(([g, s]) => [g, figures(s)]));
  raw.metrics = {
    ...(raw.metrics ?? {}),
    [a['held-out'] ? 'held_out' : 'all_subjects']: { subjects: subjects ?? 'all', chunk_sec: chunkSec, command: `npm run eval -- --data ${data}${a['held-out'] ? ' --held-out' : ''}`, ...groupFigures, by_dataset_placement: rowFigures(shippedRows) },
    ...(a.lodo ? { leave_one_dataset_out: { chunk_sec: chunkSec, command: `npm run eval -- --data ${data} --lodo`, models: lodoModels(), by_dataset_placement: rowFigures(lodo.rows) } } : {}),
  };
  writeFileSync(path, JSON.stringify(raw, null, 2) + '\n');
}

if (a.json) {
  console.log(JSON.stringify({
    model: meta.name, version: meta.version, data: a.data, subjects: subjects ?? 'all', chunk_sec: chunkSec, decision: { ...meta.decision, ...settings }, placements: placementsOf(shipped),
    trials: results.length, skipped_without_gyro: shipped.skipped, report, by_dataset_placement: rowFigures(shippedRows), misses, false_alarms: alarms,
    ...(a.lodo ? { leave_one_dataset_out: { models: lodoModels(), not_run: lodo.missing, by_dataset_placement: rowFigures(lodo.rows) } } : {}),
  }, null, 2));
} else {
  const f = (x: number, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const u = shipped.rules.unknown;
  console.log(`model ${meta.name} ${meta.version}; data ${a.data}; subjects ${subjects?.join(' ') ?? 'all'}; ${chunkSec} s chunks; threshold ${u.threshold}, smoothK ${u.smoothK}, sustainK ${u.sustainK}${meta.placements ? ' (unknown placement; the others in the table)' : ''}`);
  console.log(`${results.length} trials${shipped.skipped ? ` (${shipped.skipped} without the gyroscope the model needs left out)` : ''}, ${shipped.windows} windows in ${shipped.batches} batches, ${shipped.seconds.toFixed(1)} s`);
  for (const [g, s] of Object.entries(report) as [string, Summary][]) {
    console.log(`\n${g}`);
    if (s.fallTrials) console.log(`  sensitivity ${f(s.sensitivity)} (${s.detected}/${s.fallTrials} fall trials)`);
    if (s.adlTrials) console.log(`  specificity ${f(s.specificity, 4)} (${s.adlTrials - s.adlWithAlarm}/${s.adlTrials} ADL trials), false alarms ${s.falseAlarms} in ${f(s.adlHours, 2)} h = ${f(s.falseAlarmsPerHour, 2)} per hour`);
    if (s.detected) console.log(`  delay from impact to decision: median ${f(s.delay.median, 2)} s, p95 ${f(s.delay.p95, 2)} s, max ${f(s.delay.max, 2)} s, over 2 s: ${s.delay.over2s}; by the end of the ${chunkSec} s chunk carrying it: median ${f(s.delayByChunk.median, 2)} s, p95 ${f(s.delayByChunk.p95, 2)} s, max ${f(s.delayByChunk.max, 2)} s, over 2 s: ${s.delayByChunk.over2s}`);
  }
  console.log(`\nper dataset × placement (gateway: as the gateway decides there; model: the model alone with those knobs; threshold: the 2.5 g detector alone; delay: median/p95 s from the impact to the decision):`);
  for (const line of table(shippedRows)) console.log(line);
  if (a.lodo) {
    console.log(`\nleave one dataset out: each dataset judged by the model trained without it (${lodo.runs.map((r) => basename(r.path)).join(', ')}); pooled rows for placements with two or more datasets:`);
    for (const line of table(lodo.rows)) console.log(line);
    if (lodo.missing.length) console.log(`not run (their held-out dataset is not under ${a.data}): ${lodo.missing.join(' ')}`);
  }
  const some = (xs: string[]) => (xs.length > 40 ? `${xs.slice(0, 40).join(' ')} … and ${xs.length - 40} more (--json lists all)` : xs.join(' '));
  if (misses.length) console.log(`\nmissed falls: ${some(misses)}`);
  if (alarms.length) console.log(`false alarms: ${some(alarms)}`);
}
