// The evaluation's figures grouped by dataset × placement (and pooled by placement), as a table
// for people and as JSON for the model's metadata.
import type { Placement } from '../config/schema.js';
import { ARMS, summarise, type Arm, type Summary, type TrialResult } from './evaluate.js';

export interface Row {
  /** "sisfall50", or "all" for a row pooled over datasets. */
  dataset: string;
  placement: Placement | 'all';
  /** How the placement decides (describeRule), when one rule covers the row. */
  decidesBy?: string;
  /** The datasets pooled in the row. */
  datasets: string[];
  arms: Record<Arm, Summary>;
}

const armsOf = (rs: TrialResult[]) => Object.fromEntries(ARMS.map((a) => [a, summarise(rs, a)])) as Record<Arm, Summary>;

/** One row per dataset × placement, then per placement pooled over its datasets where it has two or more, then everything. */
export function rows(results: TrialResult[], decidesBy: (p: Placement, dataset?: string) => string | undefined): Row[] {
  const groups = new Map<string, TrialResult[]>();
  for (const r of results) {
    const k = `${r.dataset}\u0000${r.placement}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const out: Row[] = [];
  for (const [k, rs] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const [dataset, placement] = k.split('\u0000') as [string, Placement];
    out.push({ dataset, placement, decidesBy: decidesBy(placement, dataset), datasets: [dataset], arms: armsOf(rs) });
  }
  const placements = [...new Set(results.map((r) => r.placement))].sort();
  for (const p of placements) {
    const rs = results.filter((r) => r.placement === p);
    const datasets = [...new Set(rs.map((r) => r.dataset))].sort();
    if (datasets.length >= 2) out.push({ dataset: 'all', placement: p, decidesBy: decidesBy(p), datasets, arms: armsOf(rs) });
  }
  if (out.length > 1) out.push({ dataset: 'all', placement: 'all', datasets: [...new Set(results.map((r) => r.dataset))].sort(), arms: armsOf(results) });
  return out;
}

const f = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const pad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));
const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);

function armCells(s: Summary): string {
  const delay = s.detected ? `${f(s.delay.median, 2)}/${f(s.delay.p95, 2)}` : '-';
  return [lpad(s.fallTrials ? f(s.sensitivity, 3) : '-', 5), lpad(s.adlTrials ? f(s.specificity, 4) : '-', 6), lpad(s.adlTrials ? f(s.falseAlarmsPerHour, 2) : '-', 6), lpad(delay, 9)].join(' ');
}

/** The table: per row its trials, then each arm's sensitivity, specificity, false alarms per hour of ADL, delay median/p95 (s). */
export function table(rs: Row[]): string[] {
  const left = (dataset: string, placement: string, by: string, falls: string, adl: string, hours: string) => `${pad(dataset, 14)} ${pad(placement, 9)} ${pad(by, 22)} ${lpad(falls, 5)} ${lpad(adl, 5)} ${lpad(hours, 6)}`;
  const armHead = [lpad('sens', 5), lpad('spec', 6), lpad('FA/h', 6), lpad('delay', 9)].join(' ');
  const width = armHead.length;
  const top = `${' '.repeat(left('', '', '', '', '', '').length)} | ${ARMS.map((a) => pad(a, width)).join(' | ')}`.trimEnd();
  const head = `${left('dataset', 'placement', 'decides by', 'falls', 'ADL', 'ADL h')} | ${ARMS.map(() => armHead).join(' | ')}`;
  const lines = [top, head, '-'.repeat(head.length)];
  for (const r of rs) {
    const g = r.arms.gateway;
    const name = r.dataset === 'all' && r.placement !== 'all' ? `all (${r.datasets.length})` : r.dataset;
    lines.push(`${left(name, r.placement, r.decidesBy ?? '', String(g.fallTrials), String(g.adlTrials), f(g.adlHours, 2))} | ${ARMS.map((a) => armCells(r.arms[a])).join(' | ')}`);
  }
  return lines;
}

const round = (x: number, d: number) => (Number.isFinite(x) ? Number(x.toFixed(d)) : null);
const delays = (d: Summary['delay']) => ({ median: round(d.median, 2), p95: round(d.p95, 2), max: round(d.max, 2), over_2s: d.over2s });

/** One summary as recorded in the metadata's `metrics` (the shape 1.x metadata already has). */
export function figures(s: Summary): Record<string, unknown> {
  return {
    ...(s.fallTrials ? { sensitivity: round(s.sensitivity, 4), detected: s.detected, fall_trials: s.fallTrials } : {}),
    ...(s.adlTrials ? { specificity: round(s.specificity, 4), adl_trials: s.adlTrials, adl_hours: round(s.adlHours, 3), false_alarms: s.falseAlarms, false_alarms_per_hour: round(s.falseAlarmsPerHour, 3) } : {}),
    ...(s.detected ? { delay_sec: delays(s.delay), delay_by_chunk_sec: delays(s.delayByChunk) } : {}),
  };
}

/** Rows as JSON, keyed "sisfall50/waist", "all/wrist" (pooled), "all/all". */
export function rowFigures(rs: Row[]): Record<string, unknown> {
  return Object.fromEntries(rs.map((r) => [`${r.dataset}/${r.placement}`, { datasets: r.datasets, ...(r.decidesBy ? { decides_by: r.decidesBy } : {}), ...Object.fromEntries(ARMS.map((a) => [a, figures(r.arms[a])])) }]));
}
