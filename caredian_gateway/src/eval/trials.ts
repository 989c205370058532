// Trials in the shared datasets' layout: one trial a file, <CODE>_<subject>_<trial>.csv.gz with
// the header ax,ay,az,gx,gy,gz (g, deg/s) or ax,ay,az (no gyroscope), 50 Hz. Codes F.. are falls,
// D.. daily activities. A dataset is <dataset>/<placement>/<subject>/… or, like sisfall50,
// <dataset>/<subject>/… (waist); a folder of datasets holds several. wrist_meta (a second wrist
// sensor) is the wrist placement.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Placement } from '../config/schema.js';

export interface TrialRef {
  path: string;
  /** The file's name without .csv.gz (D05_SA10_R01). */
  name: string;
  /** Unique over a folder of datasets: sisfall50/D05_SA10_R01, umafall50/wrist/D05_UM02_T01. */
  key: string;
  dataset: string;
  placement: Placement;
  /** The placement folder as the dataset names it (wrist_meta), or '' for a dataset without one. */
  folder: string;
  subject: string;
  code: string;
}

export interface Trial extends TrialRef {
  fall: boolean;
  rateHz: number;
  acc: number[][];
  /** Absent when the device had no gyroscope. */
  gyro?: number[][];
}

export const PLACEMENT_FOLDERS: Readonly<Record<string, Placement>> = { waist: 'waist', hip: 'hip', wrist: 'wrist', wrist_meta: 'wrist', pocket: 'pocket', neck: 'neck', chest: 'chest', ankle: 'ankle' };

const NAME = /^([DF]\d{2,3})_([A-Z]{2}\d{2})_([RT]\d{2}[a-z]?)\.csv\.gz$/;
export const SISFALL_HELP =
  'The recordings are expected in ../shared/datasets (sisfall50/<subject>/<code>_<subject>_<trial>.csv.gz, and <dataset>/<placement>/<subject>/... for the others; columns ax,ay,az[,gx,gy,gz] in g and deg/s at 50 Hz; see its README.md). ' +
  'SisFall itself: A. Sucerquia, J. D. Lopez, J. F. Vargas-Bonilla, "SisFall: A Fall and Movement Dataset", Sensors 17(1):198, 2017 (http://sistemic.udea.edu.co/en/investigacion/proyectos/english-falls/); reduce it to 50 Hz (mean of every 4 samples) in that layout.';

export interface TrialFilter {
  subjects?: string[];
  codes?: string[];
  datasets?: string[];
}

const dirs = (dir: string) => readdirSync(dir).sort().filter((n) => statSync(join(dir, n)).isDirectory());
const holdsTrials = (dir: string) => readdirSync(dir).some((f) => NAME.test(f));

/** Every trial under `dir`: a dataset (with placement folders or without), one placement folder of one, or a folder of datasets. */
export function listTrials(dir: string, filter: TrialFilter = {}): TrialRef[] {
  if (!existsSync(dir)) throw new Error(`no dataset at ${dir}. ${SISFALL_HELP}`);
  const out: TrialRef[] = [];
  const kids = dirs(dir);
  const isDataset = (d: string) => dirs(d).some((k) => k in PLACEMENT_FOLDERS) || dirs(d).some((k) => holdsTrials(join(d, k)));
  // fallalld50/wrist: one placement of a dataset.
  const onePlacement = basename(dir) in PLACEMENT_FOLDERS && kids.some((k) => holdsTrials(join(dir, k)));
  const datasets = onePlacement ? [dirname(dir)] : isDataset(dir) ? [dir] : kids.map((k) => join(dir, k)).filter(isDataset);
  for (const ds of datasets) {
    const name = basename(ds);
    if (filter.datasets && !filter.datasets.includes(name)) continue;
    const placed = onePlacement ? [basename(dir)] : dirs(ds).filter((k) => k in PLACEMENT_FOLDERS);
    const groups = placed.length ? placed.map((folder) => ({ folder, at: join(ds, folder) })) : [{ folder: '', at: ds }];
    for (const g of groups) {
      for (const subject of dirs(g.at)) {
        if (filter.subjects && !filter.subjects.includes(subject)) continue;
        for (const file of readdirSync(join(g.at, subject)).sort()) {
          const m = NAME.exec(file);
          if (!m || (filter.codes && !filter.codes.includes(m[1]!))) continue;
          const base = file.replace(/\.csv\.gz$/, '');
          out.push({ path: join(g.at, subject, file), name: base, key: [name, g.folder, base].filter(Boolean).join('/'), dataset: name, placement: g.folder ? PLACEMENT_FOLDERS[g.folder]! : 'waist', folder: g.folder, subject, code: m[1]! });
        }
      }
    }
  }
  if (!out.length) throw new Error(`no trials found in ${dir}${filter.subjects || filter.codes || filter.datasets ? ' (with the filter given)' : ''}. ${SISFALL_HELP}`);
  return out;
}

export function readTrial(t: TrialRef, rateHz = 50): Trial {
  const lines = gunzipSync(readFileSync(t.path)).toString('utf8').trim().split('\n');
  const header = lines[0]!.trim().split(',');
  const withGyro = header.length >= 6;
  const acc: number[][] = [];
  const gyro: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const v = lines[i]!.split(',').map(Number);
    acc.push([v[0]!, v[1]!, v[2]!]);
    if (withGyro) gyro.push([v[3]!, v[4]!, v[5]!]);
  }
  return { ...t, fall: t.code.startsWith('F'), rateHz, acc, ...(withGyro ? { gyro } : {}) };
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
