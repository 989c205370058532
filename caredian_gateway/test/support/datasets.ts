// The shared recordings of every dataset and placement (../shared/datasets, never copied into the
// repository), by key: "sisfall50/F01_SA10_R01", "umafall50/pocket/F01_UM02_T01". Tests that need
// them fail with a message saying where they are expected.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listTrials, readTrial, SISFALL_HELP, type Trial } from '../../src/eval/trials.js';

export const DATASETS_DIR = process.env.CAREDIAN_DATASETS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'datasets');

export function datasetTrial(key: string): Trial {
  const parts = key.split('/');
  const name = parts.pop()!;
  const dir = join(DATASETS_DIR, ...parts);
  if (!existsSync(dir)) throw new Error(`these tests read real recordings and found none at ${dir}. ${SISFALL_HELP}`);
  const [code, subject] = name.split('_');
  const t = listTrials(dir, { subjects: [subject!], codes: [code!] }).find((x) => x.name === name);
  if (!t) throw new Error(`trial ${name} is not in ${dir}. ${SISFALL_HELP}`);
  return readTrial(t);
}
