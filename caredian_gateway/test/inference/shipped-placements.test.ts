// Every placement the shipped metadata decides for, on real recordings of that placement, through
// the runtime path (the placement's detector, knobs and model file, 1 s chunks): a fall is decided
// and a daily activity stays quiet. Two judges each: the leave-one-dataset-out model that never saw
// the recording's dataset (the honest one), and the shipped model, which trained on these
// recordings (SisFall's held-out subjects, the only ones it never read, are in shipped-model.test).
// These are examples it gets right; how often it does is `npm run eval -- --lodo`'s table.
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { loadModelFiles } from '../../src/inference/model-files.js';
import { metaPathFor, readModelMeta, type ModelMeta } from '../../src/inference/model-meta.js';
import { modelFiles, placementRules } from '../../src/inference/placement-rules.js';
import type { OnnxWindowModel } from '../../src/inference/window-model.js';
import { evaluate } from '../../src/eval/evaluate.js';
import { PLACEMENT_FOLDERS } from '../../src/eval/trials.js';
import type { Placement } from '../../src/config/schema.js';
import { datasetTrial } from '../support/datasets.js';

/** Per placement: recordings (dataset/folder/name) of falls and of daily activities. */
const RECORDINGS: Partial<Record<Placement, { falls: string[]; adls: string[] }>> = {
  waist: { falls: ['fallalld50/waist/F101_FA01_T01', 'umafall50/waist/F01_UM02_T01'], adls: ['fallalld50/waist/D13_FA01_T01', 'umafall50/waist/D01_UM01_T01'] },
  hip: { falls: ['smartfallmm50/hip/F10_SF30_T01', 'smartfallmm50/hip/F11_SF30_T03'], adls: ['smartfallmm50/hip/D02_SF01_T01', 'smartfallmm50/hip/D03_SF02_T02'] },
  wrist: {
    falls: ['fallalld50/wrist/F101_FA01_T01', 'fallalld50/wrist/F103_FA01_T01', 'umafall50/wrist/F01_UM02_T01', 'smartfallmm50/wrist_meta/F10_SF30_T01'],
    adls: ['fallalld50/wrist/D01_FA01_T01', 'fallalld50/wrist/D03_FA01_T03', 'umafall50/wrist/D05_UM01_T01', 'smartfallmm50/wrist_meta/D06_SF01_T01'],
  },
  pocket: { falls: ['umafall50/pocket/F01_UM02_T01', 'umafall50/pocket/F01_UM02_T02', 'smartfallmm50/pocket/F11_SF30_T04'], adls: ['umafall50/pocket/D01_UM01_T01', 'umafall50/pocket/D01_UM02_T02', 'smartfallmm50/pocket/D01_SF01_T01'] },
  neck: { falls: ['fallalld50/neck/F101_FA01_T01', 'fallalld50/neck/F101_FA01_T02'], adls: ['fallalld50/neck/D13_FA01_T01', 'fallalld50/neck/D13_FA01_T12'] },
  chest: { falls: ['umafall50/chest/F01_UM02_T01', 'umafall50/chest/F01_UM02_T03'], adls: ['umafall50/chest/D01_UM01_T01', 'umafall50/chest/D01_UM02_T03'] },
  ankle: { falls: ['umafall50/ankle/F01_UM02_T04', 'umafall50/ankle/F02_UM02_T02'], adls: ['umafall50/ankle/D01_UM01_T01', 'umafall50/ankle/D01_UM02_T03'] },
};

interface Judge {
  path: string;
  meta: ModelMeta;
  models: Map<string, OnnxWindowModel>;
}
const judges = new Map<string, Judge>();
/** The model at `path` with every file its metadata names, each checked against its sha256. */
async function judge(path: string): Promise<Judge> {
  let j = judges.get(path);
  if (!j) {
    const meta = readModelMeta(metaPathFor(path));
    j = { path, meta, models: await loadModelFiles(meta, modelFiles(meta, placementRules(meta, path), path, true), metaPathFor(path)) };
    judges.set(path, j);
  }
  return j;
}
afterAll(async () => {
  for (const j of judges.values()) for (const m of j.models.values()) await m.close();
});

const shipped = readModelMeta(metaPathFor(DEFAULT_MODEL_PATH));
const lodoPath = (dataset: string) => join(DEFAULT_MODEL_PATH, '..', 'lodo', `fallnet-without-${dataset}.onnx`);

test('every placement the shipped metadata lists has recordings here, and the recordings are of that placement', () => {
  const listed = Object.keys(shipped.placements ?? { waist: {} }).filter((p) => p !== 'unknown');
  expect(listed.filter((p) => !RECORDINGS[p as Placement])).toEqual([]);
  for (const [p, r] of Object.entries(RECORDINGS)) for (const k of [...r.falls, ...r.adls]) expect([k, PLACEMENT_FOLDERS[k.split('/')[1]!]]).toEqual([k, p]);
});

describe.each(Object.entries(RECORDINGS))('%s', (placement, r) => {
  test.each([
    ['the model trained without the dataset', (key: string) => lodoPath(key.split('/')[0]!)],
    ['the shipped model', () => DEFAULT_MODEL_PATH],
  ])('%s: the falls are decided, the daily activities raise nothing', async (_who, pathFor) => {
    for (const key of [...r.falls, ...r.adls]) {
      const j = await judge(pathFor(key));
      if (j.path !== DEFAULT_MODEL_PATH) expect(j.meta.training?.held_out_datasets).toEqual([key.split('/')[0]]);
      const t = datasetTrial(key);
      expect(t.placement).toBe(placement);
      const [res] = await evaluate(j.models.get(j.path)!, j.meta, [t], { modelPath: j.path, models: j.models });
      if (t.fall) expect({ key, decided: res!.decisions.length > 0 }).toEqual({ key, decided: true });
      else expect({ key, decisions: res!.decisions }).toEqual({ key, decisions: [] });
    }
  }, 60_000);
});
