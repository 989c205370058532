// How each placement decides, from the model's metadata: its detector (the model, the threshold
// detector, or either), the model's knobs, and which model file. A placement the metadata does not
// list takes `unknown`'s way; `unknown` not listed is the model with `decision` (a 1.x model has
// no `placements`: every placement is that). The gateway's knobs (fall_threshold, fall_smooth_k,
// fall_ai_sustain_k), when set, replace the model's knobs at every placement; the detector stays.
import { basename, dirname, join } from 'node:path';
import { PLACEMENTS, type Placement } from '../config/schema.js';
import type { Detector, ModelMeta } from './model-meta.js';

export interface ModelKnobs {
  threshold: number;
  smoothK: number;
  sustainK: number;
}

export interface PlacementRule extends ModelKnobs {
  detector: Detector;
  /** Either: the model probability (the highest of the windows from the impact to the decision) a threshold-detector decision needs; 0: none. */
  impactConfirm: number;
  /** The model file this placement scores with (absolute path). */
  modelPath: string;
  /** Its sha256 from the metadata (the top-level file's may be absent in hand-made metadata). */
  sha256?: string;
}

export type PlacementRules = Record<Placement, PlacementRule>;

/** `modelPath` is the top-level model file (fall_model_path or models/fallnet.onnx). */
export function placementRules(meta: ModelMeta, modelPath: string, overrides: Partial<ModelKnobs> = {}): PlacementRules {
  const dir = dirname(modelPath);
  const top = { modelPath, sha256: meta.sha256 };
  const rule = (e: NonNullable<ModelMeta['placements']>[Placement] | undefined): PlacementRule => ({
    detector: e?.detector ?? 'model',
    impactConfirm: e?.impact_confirm ?? 0,
    threshold: overrides.threshold ?? e?.threshold ?? meta.decision.threshold,
    smoothK: overrides.smoothK ?? e?.smooth_k ?? meta.decision.smooth_k,
    sustainK: overrides.sustainK ?? e?.sustain_k ?? meta.decision.sustain_k,
    ...(e?.file && e.file !== basename(modelPath) ? { modelPath: join(dir, e.file), sha256: e.sha256 } : top),
  });
  const unknown = rule(meta.placements?.unknown);
  return Object.fromEntries(PLACEMENTS.map((p) => [p, meta.placements?.[p] ? rule(meta.placements[p]) : unknown])) as PlacementRules;
}

/**
 * The model files to load, each once: the top-level one (always) and every placement's own that a
 * model decides with (`all`: also those of threshold-only placements, for the evaluation).
 */
export function modelFiles(meta: ModelMeta, rules: PlacementRules, modelPath: string, all = false): { path: string; sha256?: string }[] {
  const files = new Map<string, string | undefined>([[modelPath, meta.sha256]]);
  for (const r of Object.values(rules)) if ((all || r.detector !== 'threshold') && !files.has(r.modelPath)) files.set(r.modelPath, r.sha256);
  return [...files].map(([path, sha256]) => ({ path, ...(sha256 ? { sha256 } : {}) }));
}

/** Whether any placement's knobs in the metadata differ from what the gateway's knobs make them. */
export function overridesPlacementKnobs(meta: ModelMeta, overrides: Partial<ModelKnobs>): boolean {
  const set = Object.values(overrides).some((v) => v !== undefined);
  return set && Object.values(meta.placements ?? {}).some((e) => e.detector !== 'threshold' && (e.threshold !== undefined || e.smooth_k !== undefined || e.sustain_k !== undefined));
}

/** "model 0.86/1/1", "threshold", "either 0.95/2/2 confirm 0.2 (fallnet-wrist.onnx)": for the status and logs. */
export function describeRule(r: PlacementRule, modelPath: string): string {
  if (r.detector === 'threshold') return 'threshold';
  const confirm = r.detector === 'either' && r.impactConfirm > 0 ? ` confirm ${r.impactConfirm}` : '';
  return `${r.detector} ${r.threshold}/${r.smoothK}/${r.sustainK}${confirm}${r.modelPath !== modelPath ? ` (${basename(r.modelPath)})` : ''}`;
}
