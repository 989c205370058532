// `npm run eval` end to end on a handful of real trials: the printed figures, --write-metrics
// recording them in a copy of the model's metadata (and refusing altered knobs), the shared
// datasets' layout by dataset × placement, and leave-one-dataset-out models.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { describeRule, placementRules } from '../../src/inference/placement-rules.js';
import { SISFALL_HELP } from '../../src/eval/trials.js';
import { SISFALL_DIR } from '../support/sisfall.js';
import { DATASETS_DIR } from '../support/datasets.js';

const TRIALS = ['F01_SA10_R01', 'F08_SA05_R03', 'D05_SA10_R01', 'D07_SE05_R02'];
let dir: string;
let model: string;

beforeAll(() => {
  if (!existsSync(SISFALL_DIR)) throw new Error(`this test reads real recordings and found none at ${SISFALL_DIR}. ${SISFALL_HELP}`);
  dir = mkdtempSync(join(tmpdir(), 'eval-cli-'));
  for (const name of TRIALS) {
    const subject = name.split('_')[1]!;
    mkdirSync(join(dir, 'data', subject), { recursive: true });
    symlinkSync(join(SISFALL_DIR, subject, `${name}.csv.gz`), join(dir, 'data', subject, `${name}.csv.gz`));
  }
  model = join(dir, 'fallnet.onnx');
  copyFileSync(DEFAULT_MODEL_PATH, model);
  copyFileSync(metaPathFor(DEFAULT_MODEL_PATH), metaPathFor(model));
  // and every per-placement model file the metadata names, which sits beside it
  const named = new Set(Object.values(readModelMeta(metaPathFor(DEFAULT_MODEL_PATH)).placements ?? {}).flatMap((p) => (p.file ? [p.file] : [])));
  for (const f of named) copyFileSync(join(dirname(DEFAULT_MODEL_PATH), f), join(dir, f));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', join(dir, 'data'), '--model', model, ...args], { encoding: 'utf8' });

test('prints trial-level figures and records them with --write-metrics', () => {
  const r = run('--held-out', '--write-metrics');
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('4 trials');
  expect(r.stdout).toMatch(/sensitivity 1\.000 \(2\/2 fall trials\)/);
  expect(r.stdout).toMatch(/specificity 1\.0000 \(2\/2 ADL trials\), false alarms 0/);
  const meta = JSON.parse(readFileSync(metaPathFor(model), 'utf8'));
  const m = meta.metrics.held_out;
  expect(m.all).toMatchObject({ sensitivity: 1, detected: 2, fall_trials: 2, specificity: 1, adl_trials: 2, false_alarms: 0, false_alarms_per_hour: 0 });
  expect(m.all.delay_sec.max).toBeLessThanOrEqual(2);
  expect(m['elderly (SE)']).toMatchObject({ adl_trials: 1, false_alarms: 0 });
  expect(meta.sha256).toBe(JSON.parse(readFileSync(metaPathFor(DEFAULT_MODEL_PATH), 'utf8')).sha256);
}, 60_000);

test('--write-metrics refuses figures from altered knobs and leaves the metadata alone', () => {
  const before = readFileSync(metaPathFor(model), 'utf8');
  const r = run('--held-out', '--write-metrics', '--threshold', '0.1');
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/own knobs/);
  expect(readFileSync(metaPathFor(model), 'utf8')).toBe(before);
}, 60_000);

test('without --data it prints its usage and exits 2', () => {
  const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js')], { encoding: 'utf8' });
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(/usage: npm run eval/);
});

test('decisions follow the samples, not the chunking; the chunk wait is labelled with the chunk size', () => {
  const decisionsOf = (out: string) => /delay from impact to decision: (median [\d.]+ s, p95 [\d.]+ s, max [\d.]+ s)/.exec(out)?.[1];
  const one = run('--held-out');
  const ten = run('--held-out', '--chunk-sec', '10');
  expect(ten.status).toBe(0);
  expect(decisionsOf(ten.stdout)).toBeDefined();
  expect(decisionsOf(ten.stdout)).toBe(decisionsOf(one.stdout));
  expect(ten.stdout).toContain('by the end of the 10 s chunk carrying it');
  expect(one.stdout).toContain('by the end of the 1 s chunk carrying it');
}, 60_000);

describe('a folder of datasets in the shared layout, and leave-one-dataset-out models', () => {
  const KEYS = [
    'sisfall50/SA10/F01_SA10_R01', 'sisfall50/SA10/D05_SA10_R01',
    'umafall50/waist/UM02/F01_UM02_T01', 'umafall50/waist/UM01/D01_UM01_T01', 'umafall50/pocket/UM02/F01_UM02_T01',
    'fallalld50/waist/FA01/F101_FA01_T01', 'fallalld50/waist/FA01/D13_FA01_T01',
    'smartfallmm50/wrist/SF30/F11_SF30_T02', 'smartfallmm50/wrist_meta/SF30/F11_SF30_T02',
  ];
  let root: string;
  let lodo: string;
  beforeAll(() => {
    root = join(dir, 'datasets');
    for (const k of KEYS) {
      const target = join(root, `${k}.csv.gz`);
      mkdirSync(join(target, '..'), { recursive: true });
      symlinkSync(join(DATASETS_DIR, `${k}.csv.gz`), target);
    }
    lodo = join(dir, 'lodo');
    mkdirSync(lodo);
    const shipped = JSON.parse(readFileSync(metaPathFor(DEFAULT_MODEL_PATH), 'utf8'));
    for (const f of Object.values(shipped.placements ?? {}) as { file?: string }[]) if (f.file) copyFileSync(join(dirname(DEFAULT_MODEL_PATH), f.file), join(lodo, f.file));
    for (const held of ['umafall50', 'fallalld50']) {
      copyFileSync(DEFAULT_MODEL_PATH, join(lodo, `fallnet-without-${held}.onnx`));
      writeFileSync(join(lodo, `fallnet-without-${held}.meta.json`), JSON.stringify({ ...shipped, file: `fallnet-without-${held}.onnx`, placements: { pocket: { detector: 'threshold' } }, training: { held_out_datasets: [held] } }));
    }
  });
  const json = (...args: string[]) => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', root, '--model', model, '--json', ...args], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout);
  };
  type Arms = Record<'gateway' | 'model' | 'threshold', { sensitivity?: number; detected?: number; fall_trials?: number; adl_trials?: number; delay_sec?: { median: number } }>;

  test('one row per dataset × placement (wrist_meta is wrist), pooled rows for placements of two or more datasets, the threshold detector beside the model', () => {
    const out = json();
    expect(out.trials).toBe(KEYS.length);
    const rows = out.by_dataset_placement as Record<string, Arms & { datasets: string[]; decides_by?: string }>;
    expect(Object.keys(rows).sort()).toEqual(['all/all', 'all/waist', 'fallalld50/waist', 'sisfall50/waist', 'smartfallmm50/wrist', 'umafall50/pocket', 'umafall50/waist'].sort());
    expect(rows['smartfallmm50/wrist']!.gateway.fall_trials).toBe(2);
    expect(rows['all/waist']!.datasets).toEqual(['fallalld50', 'sisfall50', 'umafall50']);
    expect(rows['all/waist']!.gateway).toMatchObject({ fall_trials: 3, adl_trials: 3 });
    const shipped = readModelMeta(metaPathFor(DEFAULT_MODEL_PATH));
    expect(rows['sisfall50/waist']).toMatchObject({ decides_by: describeRule(placementRules(shipped, model).waist, model), gateway: { detected: 1, fall_trials: 1 }, model: { detected: 1 }, threshold: { detected: 1 } });
    // The threshold detector decides 3 s after the impact; the model sooner.
    const th = rows['sisfall50/waist']!.threshold.delay_sec!.median;
    expect(th).toBeGreaterThan(2);
    expect(rows['sisfall50/waist']!.model.delay_sec!.median).toBeLessThan(th);
    expect(json('--datasets', 'umafall50').trials).toBe(3);
  }, 60_000);

  test('--lodo: each model on the dataset it never saw, with its own placements; --write-metrics records both', () => {
    const out = json('--lodo');
    const l = out.leave_one_dataset_out as { models: Record<string, string>; by_dataset_placement: Record<string, Arms & { datasets: string[]; decides_by?: string }> };
    expect(l.models).toEqual({ fallalld50: expect.stringMatching(/^fallnet-without-fallalld50\.onnx/), umafall50: expect.stringMatching(/^fallnet-without-umafall50\.onnx/) });
    expect(Object.keys(l.by_dataset_placement).sort()).toEqual(['all/all', 'all/waist', 'fallalld50/waist', 'umafall50/pocket', 'umafall50/waist']);
    expect(l.by_dataset_placement['umafall50/pocket']!.decides_by).toBe('threshold');
    expect(l.by_dataset_placement['all/waist']!.datasets).toEqual(['fallalld50', 'umafall50']);
    const text = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', root, '--model', model, '--lodo'], { encoding: 'utf8' });
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/leave one dataset out/);
    expect(text.stdout).toMatch(/^umafall50\s+pocket\s+threshold\s+1\s+0\s/m);

    const w = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', root, '--model', model, '--lodo', '--write-metrics'], { encoding: 'utf8' });
    expect(w.status).toBe(0);
    const m = JSON.parse(readFileSync(metaPathFor(model), 'utf8')).metrics;
    expect(m.all_subjects.by_dataset_placement['umafall50/waist'].gateway).toMatchObject({ fall_trials: 1, adl_trials: 1 });
    expect(m.leave_one_dataset_out.by_dataset_placement['all/waist'].datasets).toEqual(['fallalld50', 'umafall50']);
  }, 90_000);

  test('--lodo refuses a model file that does not match its sha256, and a folder without models', () => {
    const bad = join(dir, 'lodo-bad');
    mkdirSync(bad);
    copyFileSync(DEFAULT_MODEL_PATH, join(bad, 'fallnet-without-umafall50.onnx'));
    const meta = JSON.parse(readFileSync(join(lodo, 'fallnet-without-umafall50.meta.json'), 'utf8'));
    writeFileSync(join(bad, 'fallnet-without-umafall50.meta.json'), JSON.stringify({ ...meta, sha256: 'f'.repeat(64) }));
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', root, '--model', model, '--lodo', '--lodo-dir', bad], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/fallnet-without-umafall50\.onnx does not match the sha256/);
    const none = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'eval.js'), '--data', root, '--model', model, '--lodo', '--lodo-dir', join(dir, 'data')], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no leave-one-dataset-out models/);
  }, 60_000);
});
