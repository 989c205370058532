// A recording in the datasets' layout: gzip'd (or plain) CSV with a header naming at least
// ax,ay,az (g, gravity included), one sample a row at a fixed rate (50 Hz in ../shared/datasets).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Recording } from './synthetic-motion.js';

export function readRecording(path: string, rateHz = 50): Recording {
  const raw = readFileSync(path);
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const header = (lines[0] ?? '').split(',').map((h) => h.trim().toLowerCase());
  const cols = ['ax', 'ay', 'az'].map((c) => header.indexOf(c));
  if (cols.some((c) => c < 0)) throw new Error(`${path}: the first line must be a header naming ax,ay,az (found "${lines[0] ?? ''}")`);
  const acc: number[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const v = lines[i]!.split(',');
    const row = cols.map((c) => Number(v[c]));
    if (row.some((x) => !Number.isFinite(x))) throw new Error(`${path}:${i + 1}: ax,ay,az must be numbers`);
    acc.push(row);
  }
  if (!acc.length) throw new Error(`${path}: no samples`);
  return { name: basename(path).replace(/\.csv(\.gz)?$/, ''), rateHz, acc };
}
