// Trial-level evaluation through the runtime path the HTTP route uses: each trial is one device,
// streamed in chunks (1 s by default) with its own timeline; many trials run at once, so the
// model sees batches as it would with many devices.
import { FallDecider, type DeciderSettings } from '../inference/fall-decider.js';
import { FallInference } from '../inference/fall-inference.js';
import type { ModelMeta } from '../inference/model-meta.js';
import type { WindowModel } from '../inference/window-model.js';
import { impactIndex, type Trial } from './trials.js';

export interface TrialResult {
  name: string;
  subject: string;
  code: string;
  fall: boolean;
  seconds: number;
  decisions: { ts: number; prob: number }[];
  /** Fall trials: first decision minus impact, on the sample timeline (s). */
  delaySec?: number;
  /** Fall trials: end of the chunk that carried the first decision minus impact (s). */
  delayByChunkSec?: number;
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

export async function evaluate(model: WindowModel, meta: ModelMeta, trials: AsyncIterable<Trial> | Iterable<Trial>, o: { settings?: Partial<DeciderSettings>; chunkSec?: number; concurrency?: number } = {}): Promise<TrialResult[]> {
  const decider = new FallDecider({ threshold: meta.decision.threshold, smoothK: meta.decision.smooth_k, sustainK: meta.decision.sustain_k, cooldownSec: 60, mode: 'model_only', andWindowSec: 10, ...o.settings });
  const inf = new FallInference(meta, model, decider);
  const chunkSec = o.chunkSec ?? 1;
  const results: TrialResult[] = [];
  const running = new Set<Promise<void>>();
  let n = 0;
  for await (const t of trials) {
    const device = `trial-${n++}`;
    const p = run(inf, device, t, chunkSec).then((r) => {
      results.push(r);
      running.delete(p);
    });
    running.add(p);
    if (running.size >= (o.concurrency ?? 64)) await Promise.race(running);
  }
  await Promise.all(running);
  return results.sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function run(inf: FallInference, device: string, t: Trial, chunkSec: number): Promise<TrialResult> {
  const per = Math.max(1, Math.round(chunkSec * t.rateHz));
  const decisions: { ts: number; prob: number; chunkEnd: number }[] = [];
  for (let i = 0; i < t.acc.length; i += per) {
    const acc = t.acc.slice(i, i + per);
    const out = await inf.ingest(device, { t0: T0 + i / t.rateHz, rateHz: t.rateHz, acc, gyro: t.gyro.slice(i, i + per) }, T0);
    for (const d of out.decisions) decisions.push({ ts: d.ts, prob: d.prob, chunkEnd: T0 + (i + acc.length - 1) / t.rateHz });
  }
  inf.forget(device);
  const r: TrialResult = { name: t.name, subject: t.subject, code: t.code, fall: t.fall, seconds: t.acc.length / t.rateHz, decisions: decisions.map(({ ts, prob }) => ({ ts: ts - T0, prob })) };
  if (t.fall && decisions.length) {
    const impact = T0 + impactIndex(t.acc) / t.rateHz;
    r.delaySec = decisions[0]!.ts - impact;
    r.delayByChunkSec = decisions[0]!.chunkEnd - impact;
  }
  return r;
}

function spread(xs: number[]) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)]! : NaN);
  return { median: q(0.5), p95: q(0.95), max: s.length ? s[s.length - 1]! : NaN, over2s: s.filter((x) => x > 2).length };
}

export function summarise(rs: TrialResult[]): Summary {
  const falls = rs.filter((r) => r.fall);
  const adl = rs.filter((r) => !r.fall);
  const detected = falls.filter((r) => r.decisions.length > 0);
  const adlWithAlarm = adl.filter((r) => r.decisions.length > 0).length;
  const adlHours = adl.reduce((s, r) => s + r.seconds, 0) / 3600;
  const falseAlarms = adl.reduce((s, r) => s + r.decisions.length, 0);
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
    delay: spread(detected.map((r) => r.delaySec!)),
    delayByChunk: spread(detected.map((r) => r.delayByChunkSec!)),
  };
}
