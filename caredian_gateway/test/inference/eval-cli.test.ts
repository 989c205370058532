// `npm run eval` end to end on a handful of real held-out trials: the printed figures, and
// --write-metrics recording them in a copy of the model's metadata (and refusing altered knobs).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor } from '../../src/inference/model-meta.js';
import { SISFALL_HELP } from '../../src/eval/trials.js';
import { SISFALL_DIR } from '../support/sisfall.js';

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
