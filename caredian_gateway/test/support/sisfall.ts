// The shared SisFall recordings (never copied into the repository). Tests that need them fail
// with a message saying where they are expected and where SisFall comes from.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listTrials, readTrial, SISFALL_HELP, type Trial } from '../../src/eval/trials.js';

export const SISFALL_DIR = process.env.CAREDIAN_SISFALL_DIR ?? join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..', 'shared', 'datasets', 'sisfall50');

export function sisfallTrial(name: string): Trial {
  if (!existsSync(SISFALL_DIR)) throw new Error(`these tests read real recordings and found none at ${SISFALL_DIR}. ${SISFALL_HELP}`);
  const [code, subject] = name.split('_');
  const t = listTrials(SISFALL_DIR, { subjects: [subject!], codes: [code!] }).find((x) => x.name === name);
  if (!t) throw new Error(`trial ${name} is not in ${SISFALL_DIR}. ${SISFALL_HELP}`);
  return readTrial(t);
}
