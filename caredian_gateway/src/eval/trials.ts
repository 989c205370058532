// Trials in the SisFall-at-50-Hz layout: <subject>/<code>_<subject>_<trial>.csv.gz with the header
// ax,ay,az,gx,gy,gz (g, deg/s). Codes F.. are falls, D.. daily activities.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export interface Trial {
  name: string;
  subject: string;
  code: string;
  fall: boolean;
  rateHz: number;
  acc: number[][];
  gyro: number[][];
}

const NAME = /^([DF]\d\d)_(S[AE]\d\d)_(R\d\d)\.csv\.gz$/;
export const SISFALL_HELP =
  'SisFall at 50 Hz is expected in ../shared/datasets/sisfall50 (<subject>/<code>_<subject>_<trial>.csv.gz, columns ax,ay,az,gx,gy,gz in g and deg/s). ' +
  'SisFall itself: A. Sucerquia, J. D. Lopez, J. F. Vargas-Bonilla, "SisFall: A Fall and Movement Dataset", Sensors 17(1):198, 2017 (http://sistemic.udea.edu.co/en/investigacion/proyectos/english-falls/); reduce it to 50 Hz (mean of every 4 samples) in that layout.';

export function listTrials(dir: string, filter?: { subjects?: string[]; codes?: string[] }): { path: string; name: string; subject: string; code: string }[] {
  if (!existsSync(dir)) throw new Error(`no dataset at ${dir}. ${SISFALL_HELP}`);
  const out: { path: string; name: string; subject: string; code: string }[] = [];
  for (const subject of readdirSync(dir).sort()) {
    const folder = join(dir, subject);
    if (!statSync(folder).isDirectory() || (filter?.subjects && !filter.subjects.includes(subject))) continue;
    for (const file of readdirSync(folder).sort()) {
      const m = NAME.exec(file);
      if (!m || (filter?.codes && !filter.codes.includes(m[1]!))) continue;
      out.push({ path: join(folder, file), name: file.replace(/\.csv\.gz$/, ''), subject, code: m[1]! });
    }
  }
  if (!out.length) throw new Error(`no trials found in ${dir}. ${SISFALL_HELP}`);
  return out;
}

export function readTrial(t: { path: string; name: string; subject: string; code: string }, rateHz = 50): Trial {
  const lines = gunzipSync(readFileSync(t.path)).toString('utf8').trim().split('\n');
  const acc: number[][] = [];
  const gyro: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const v = lines[i]!.split(',').map(Number);
    acc.push([v[0]!, v[1]!, v[2]!]);
    gyro.push([v[3]!, v[4]!, v[5]!]);
  }
  return { ...t, fall: t.code.startsWith('F'), rateHz, acc, gyro };
}

/** The impact of a fall trial: the sample with the largest acceleration magnitude (the training script's rule). */
export function impactIndex(acc: number[][]): number {
  let best = 0;
  let at = 0;
  acc.forEach(([x, y, z], i) => {
    const m = x! * x! + y! * y! + z! * z!;
    if (m > best) (best = m), (at = i);
  });
  return at;
}
