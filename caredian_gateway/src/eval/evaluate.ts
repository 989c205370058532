// Trial-level evaluation through the runtime path the HTTP route uses: each trial is one device,
// streamed in chunks (1 s by default) with its own timeline and its placement; many trials run at
// once, so the model sees batches as it would with many devices. Every trial is judged three
// ways from the same stream: as the gateway decides at its placement (`gateway`: the placement's
// detector and knobs), by the model alone with those knobs (`model`), and by the threshold
// detector alone (`threshold`).
import type { Placement } from '../config/schema.js';
import { FallDecider, type DeciderSettings } from '../inference/fall-decider.js';
import { FallInference } from '../inference/fall-inference.js';
import type { ModelMeta } from '../inference/model-meta.js';
import { placementRules, type PlacementRules } from '../inference/placement-rules.js';
import type { WindowModel } from '../inference/window-model.js';
import { impactIndex, type Trial } from './trials.js';

export const ARMS = ['gateway', 'model', 'threshold'] as const;
export type Arm = (typeof ARMS)[number];

export interface ArmResult {
  decisions: { ts: number; prob: number; detector?: string }[];
  /** Fall trials: first decision minus impact, on the sample timeline (s). */
  delaySec?: number;
  /** Fall trials: end of the chunk that carried the first decision minus impact (s). */
  delayByChunkSec?: number;
}

export interface TrialResult extends ArmResult {
  name: string;
  key: string;
  dataset: string;
  placement: Placement;
  subject: string;
  code: string;
  fall: boolean;
  seconds: number;
  /** The model alone and the threshold detector alone (the gateway's own figures are the fields above). */
  model: ArmResult;
  threshold: ArmResult;
}

export interface Summary {
  fallTrials: number;
  detected: number;
  sensitivity: number;
  adlTrials: number;
  adlWithAlarm: number;
  specificity: number;
  adlHours: number;
  falseAlarms: number;
  falseAlarmsPerHour: number;
  delay: { median: number; p95: number; max: number; over2s: number };
  delayByChunk: { median: number; p95: number; max: number; over2s: number };
}

const T0 = 1_700_000_000;
const COOLDOWN_SEC = 60;

export interface EvaluateOptions {
  /** Knobs over the model's (they apply at every placement, as the gateway's fall_* options do), and the policy. */
  settings?: Partial<DeciderSettings>;
  chunkSec?: number;
  concurrency?: number;
  /** The model file `model` is (the metadata's placements name their files relative to it). */
  modelPath?: string;
  /** Loaded per-placement model files, by path. */
  models?: ReadonlyMap<string, WindowModel>;
}

export function evaluationRules(meta: ModelMeta, modelPath: string, settings: Partial<DeciderSettings> = {}): PlacementRules {
  return placementRules(meta, modelPath, { threshold: settings.threshold, smoothK: settings.smoothK, sustainK: settings.sustainK });
}

export async function evaluate(model: WindowModel, meta: ModelMeta, trials: AsyncIterable<Trial> | Iterable<Trial>, o: EvaluateOptions = {}): Promise<TrialResult[]> {
  const rules = evaluationRules(meta, o.modelPath ?? '', o.settings);
  const u = rules.unknown;
  const policy: DeciderSettings = { threshold: u.threshold, smoothK: u.smoothK, sustainK: u.sustainK, cooldownSec: COOLDOWN_SEC, mode: 'model_only', andWindowSec: 10, ...o.settings };
  const inf = new FallInference(meta, model, new FallDecider(policy), { rules, models: o.models, scoreAll: true });
  const chunkSec = o.chunkSec ?? 1;
  const results: TrialResult[] = [];
  const running = new Set<Promise<void>>();
  let n = 0;
  for await (const t of trials) {
    const device = `trial-${n++}`;
    const p = run(inf, policy, device, t, chunkSec).then((r) => {
      results.push(r);
      running.delete(p);
    });
    running.add(p);
    if (running.size >= (o.concurrency ?? 64)) await Promise.race(running);
  }
  await Promise.all(running);
  return results.sort((a, b) => (a.key < b.key ? -1 : 1));
}

type Timed = { ts: number; prob: number; chunkEnd: number; detector?: string };

async function run(inf: FallInference, policy: DeciderSettings, device: string, t: Trial, chunkSec: number): Promise<TrialResult> {
  const per = Math.max(1, Math.round(chunkSec * t.rateHz));
  const rule = inf.rule(t.placement);
  // The model alone and the threshold detector alone, each with its own cooldown, fed what the runtime saw.
  const alone = { model: new FallDecider(policy), threshold: new FallDecider(policy) };
  const arms: Record<Arm, Timed[]> = { gateway: [], model: [], threshold: [] };
  for (let i = 0; i < t.acc.length; i += per) {
    const acc = t.acc.slice(i, i + per);
    const out = await inf.ingest(device, { t0: T0 + i / t.rateHz, rateHz: t.rateHz, acc, gyro: t.gyro?.slice(i, i + per), placement: t.placement }, T0);
    const chunkEnd = T0 + (i + acc.length - 1) / t.rateHz;
    for (const d of out.decisions) arms.gateway.push({ ts: d.ts, prob: d.prob, chunkEnd, detector: d.detector });
    for (const w of out.scored) {
      const d = alone.model.onModelWindow(device, w.ts, w.prob, rule);
      if (d) arms.model.push({ ts: d.ts, prob: d.prob, chunkEnd });
    }
    for (const hit of out.impacts) {
      const d = alone.threshold.onThreshold(device, hit.ts);
      if (d) arms.threshold.push({ ts: d.ts, prob: d.prob, chunkEnd });
    }
  }
  inf.forget(device);
  const impact = t.fall ? T0 + impactIndex(t.acc) / t.rateHz : undefined;
  const arm = (ds: Timed[]): ArmResult => {
    const r: ArmResult = { decisions: ds.map(({ ts, prob, detector }) => ({ ts: ts - T0, prob, ...(detector ? { detector } : {}) })) };
    if (impact !== undefined && ds.length) {
      r.delaySec = ds[0]!.ts - impact;
      r.delayByChunkSec = ds[0]!.chunkEnd - impact;
    }
    return r;
  };
  return { name: t.name, key: t.key, dataset: t.dataset, placement: t.placement, subject: t.subject, code: t.code, fall: t.fall, seconds: t.acc.length / t.rateHz, ...arm(arms.gateway), model: arm(arms.model), threshold: arm(arms.threshold) };
}

function spread(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN);
  return { median: q(0.5), p95: q(0.95), max: s.length ? s[s.length - 1]! : NaN, over2s: s.filter((x) => x > 2).length };
}

/** Trial-level figures of one arm (default: as the gateway decides). */
export function summarise(rs: TrialResult[], arm: Arm = 'gateway'): Summary {
  const of = (r: TrialResult): ArmResult => (arm === 'gateway' ? r : r[arm]);
  const falls = rs.filter((r) => r.fall);
  const adl = rs.filter((r) => !r.fall);
  const detected = falls.filter((r) => of(r).decisions.length > 0);
  const adlWithAlarm = adl.filter((r) => of(r).decisions.length > 0).length;
  const adlHours = adl.reduce((s, r) => s + r.seconds, 0) / 3600;
  const falseAlarms = adl.reduce((s, r) => s + of(r).decisions.length, 0);
  return {
    fallTrials: falls.length,
    detected: detected.length,
    sensitivity: falls.length ? detected.length / falls.length : NaN,
    adlTrials: adl.length,
    adlWithAlarm,
    specificity: adl.length ? 1 - adlWithAlarm / adl.length : NaN,
    adlHours,
    falseAlarms,
    falseAlarmsPerHour: adlHours ? falseAlarms / adlHours : NaN,
    delay: spread(detected.map((r) => of(r).delaySec!)),
    delayByChunk: spread(detected.map((r) => of(r).delayByChunkSec!)),
  };
}
