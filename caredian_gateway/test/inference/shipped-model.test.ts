// The shipped model on real recordings of people it was not trained on (its held-out subjects),
// through the same runtime path the HTTP route uses.
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { loadModelFiles } from '../../src/inference/model-files.js';
import { modelFiles, placementRules } from '../../src/inference/placement-rules.js';
import type { OnnxWindowModel } from '../../src/inference/window-model.js';
import { evaluate } from '../../src/eval/evaluate.js';
import type { Trial } from '../../src/eval/trials.js';
import { impactIndex, listTrials } from '../../src/eval/trials.js';
import { sisfallTrial } from '../support/sisfall.js';

const meta = readModelMeta(metaPathFor(DEFAULT_MODEL_PATH));
let models: Map<string, OnnxWindowModel>;
let model: OnnxWindowModel;
beforeAll(async () => {
  // Every file the metadata names, checked against its sha256, as the gateway loads them.
  models = await loadModelFiles(meta, modelFiles(meta, placementRules(meta, DEFAULT_MODEL_PATH), DEFAULT_MODEL_PATH, true), metaPathFor(DEFAULT_MODEL_PATH));
  model = models.get(DEFAULT_MODEL_PATH)!;
});
afterAll(async () => {
  for (const m of models.values()) await m.close();
});
/** Through the runtime path, at each trial's placement (SisFall: waist), with the placement's model and knobs. */
const judge = (trials: Trial[]) => evaluate(model, meta, trials, { modelPath: DEFAULT_MODEL_PATH, models });
/** SisFall subjects: 1.x metadata lists them; 2.x by dataset, and per placement what it trained on. */
const sisfall = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : ((v as Record<string, string[]> | undefined)?.sisfall50 ?? []));
const trainedSisfall = (): string[] => {
  const t = meta.training!;
  if (Array.isArray(t.subjects)) return t.subjects as string[];
  const waist = (t.placements as { waist?: { trained_on: { dataset: string; subjects: string[] }[] } } | undefined)?.waist;
  return waist?.trained_on.filter((x) => x.dataset === 'sisfall50').flatMap((x) => x.subjects) ?? [];
};

const FALLS = ['F01_SA10_R01', 'F03_SA10_R02', 'F05_SA15_R01', 'F08_SA05_R03', 'F10_SA10_R04', 'F15_SA15_R05'];
const ADLS = ['D01_SE10_R01', 'D05_SA10_R01', 'D07_SE05_R02', 'D10_SA15_R02', 'D11_SE10_R01', 'D17_SA05_R03', 'D19_SA10_R01'];

test('the metadata names held-out subjects the training never read, and these trials are theirs', () => {
  const held = sisfall(meta.training!.held_out_subjects);
  const trained = trainedSisfall();
  expect(held.length).toBeGreaterThan(0);
  expect(trained.length).toBeGreaterThan(0);
  expect(trained.filter((s) => held.includes(s))).toEqual([]);
  for (const n of [...FALLS, ...ADLS]) expect(held).toContain(n.split('_')[1]);
});

test('falls are decided within 2 s of the impact; daily activities raise nothing', async () => {
  const results = await judge([...FALLS, ...ADLS].map(sisfallTrial));
  for (const r of results) {
    if (r.fall) {
      expect({ name: r.name, decided: r.decisions.length >= 1 }).toEqual({ name: r.name, decided: true });
      // Delay counts from the largest peak; a fall can be decided on an earlier hit of the same fall
      // (a knee before the hip), so a little before it, but never from the activity before the fall.
      expect(r.delaySec!).toBeGreaterThanOrEqual(-1);
      expect(r.delaySec!).toBeLessThan(2);
    } else expect({ name: r.name, decisions: r.decisions }).toEqual({ name: r.name, decisions: [] });
  }
}, 60_000);

function rotation(ax: number, ay: number, az: number): number[][] {
  const [cx, sx, cy, sy, cz, sz] = [Math.cos(ax), Math.sin(ax), Math.cos(ay), Math.sin(ay), Math.cos(az), Math.sin(az)];
  return [
    [cy * cz, sx * sy * cz - cx * sz, cx * sy * cz + sx * sz],
    [cy * sz, sx * sy * sz + cx * cz, cx * sy * sz - sx * cz],
    [-sy, sx * cy, cx * cy],
  ];
}
const rotate = (rows: number[][], r: number[][]) => rows.map((v) => r.map((row) => row[0]! * v[0]! + row[1]! * v[1]! + row[2]! * v[2]!));

test('how the device is worn does not matter: a rotated recording gives the same window probabilities', async () => {
  const t = sisfallTrial('F02_SA10_R01');
  const upsideDown = { ...t, name: 'rotated', acc: rotate(t.acc, rotation(2.1, -0.7, 1.3)), gyro: rotate(t.gyro!, rotation(2.1, -0.7, 1.3)) };
  const n = 200 * 3;
  const windows = (acc: number[][]) => {
    const out = new Float32Array(n * 10);
    for (let w = 0; w < 10; w++) for (let i = 0; i < 200; i++) out.set(acc[w * 50 + i]!, (w * 200 + i) * 3);
    return out;
  };
  const a = await model.scoreBatch(windows(t.acc), 10);
  const b = await model.scoreBatch(windows(upsideDown.acc), 10);
  for (let i = 0; i < 10; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-3);
  expect(Math.max(...a)).toBeGreaterThan(meta.decision.threshold); // the window set includes the fall
});

test('a recording at 200 Hz is resampled to the model rate and decided like the 50 Hz one', async () => {
  const t = sisfallTrial('F04_SA10_R01');
  const up = (rows: number[][]) => rows.flatMap((v, i) => {
    const next = rows[Math.min(i + 1, rows.length - 1)]!;
    return [0, 1, 2, 3].map((k) => v.map((x, c) => x + ((next[c]! - x) * k) / 4));
  });
  const [r50] = await judge([t]);
  const [r200] = await judge([{ ...t, rateHz: 200, acc: up(t.acc), gyro: up(t.gyro!) }]);
  expect(r50!.decisions).toHaveLength(1);
  expect(r200!.decisions).toHaveLength(1);
  expect(Math.abs(r200!.decisions[0]!.ts - r50!.decisions[0]!.ts)).toBeLessThan(0.05);
  expect(impactIndex(t.acc)).toBeGreaterThan(0);
}, 60_000);

test('windows due together run as one batch', async () => {
  const before = { ...model.stats };
  const w = new Float32Array(meta.window_samples * meta.channels.length).fill(0);
  for (let i = 0; i < w.length; i += 3) w[i + 1] = -1;
  const probs = await Promise.all(Array.from({ length: 12 }, () => model.score(w)));
  expect(model.stats.runs - before.runs).toBe(1);
  expect(model.stats.windows - before.windows).toBe(12);
  expect(new Set(probs).size).toBe(1);
  await expect(model.score(new Float32Array(5))).rejects.toThrow(/expected 600/);
});

test('a missing dataset fails with a message saying where to get SisFall', () => {
  expect(() => listTrials('/nonexistent/sisfall50')).toThrow(/no dataset at \/nonexistent\/sisfall50.*SisFall.*Sensors 17/);
});
