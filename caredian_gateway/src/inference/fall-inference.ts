// The IMU path from a validated chunk to decisions: the device's timeline on the model's grid
// (which also runs the threshold detector), the placement's model (shared and batched), then the
// decision policy with the placement's knobs and detector. The HTTP route and `npm run eval` both
// use exactly this class. Chunks of one device are processed in order; devices run concurrently,
// so their windows meet in the model's batches.
import { PLACEMENTS, type Placement } from '../config/schema.js';
import { accAxes, type ModelMeta } from './model-meta.js';
import { ImuStreams, ImuTimeline } from './imu-timeline.js';
import type { Decision, FallDecider } from './fall-decider.js';
import type { WindowModel } from './window-model.js';
import type { MotionTrail } from './motion-trail.js';
import type { PlacementRule, PlacementRules } from './placement-rules.js';
import { THRESHOLD_DEFINITION, type ImpactDecision } from './threshold-detector.js';

export interface ImuChunk {
  t0?: number;
  rateHz: number;
  acc: number[][];
  gyro?: number[][];
  /** Where the device is worn; missing: unknown. */
  placement?: Placement;
}

export interface ChunkOutcome {
  accepted: number;
  windows: number;
  decisions: Decision[];
  /** The placement the chunk was decided for. */
  placement: Placement;
  /** The windows a model scored (end time, probability), in order. */
  scored: { ts: number; prob: number }[];
  /** What the threshold detector decided on the chunk's samples, before the policy. */
  impacts: ImpactDecision[];
}

/** Per placement: windows a model scored, and falls the gateway decided from the motion data. */
export type PlacementStats = Record<Placement, { windows: number; decisions: number }>;

export const emptyPlacementStats = (): PlacementStats => Object.fromEntries(PLACEMENTS.map((p) => [p, { windows: 0, decisions: 0 }])) as PlacementStats;

interface Ready extends PlacementRule {
  model: WindowModel;
}

export interface FallInferenceOptions {
  idleMs?: number;
  maxGapSec?: number;
  maxDevices?: number;
  maxStateBytes?: number;
  onChunk?: (deviceId: string) => void;
  /** Per placement; without them every placement is the model with the decider's knobs. */
  rules?: PlacementRules;
  /** The loaded model of each rule's file (by path); a file missing here scores with `model`. */
  models?: ReadonlyMap<string, WindowModel>;
  /** Score every window, even where the threshold detector alone decides (the evaluation's model figures). */
  scoreAll?: boolean;
  /** Counted into (the inference module's, for the metrics). */
  stats?: PlacementStats;
}

export class FallInference {
  readonly streams: ImuStreams;
  readonly stats: PlacementStats;
  private chains = new Map<string, Promise<unknown>>();
  private readonly pick: { source: 'acc' | 'gyro'; axis: number }[];
  private readonly ready: Record<Placement, Ready>;

  constructor(
    readonly meta: ModelMeta,
    private readonly model: WindowModel,
    private readonly decider: FallDecider,
    private readonly o: FallInferenceOptions = {},
  ) {
    const axes = accAxes(meta);
    const spec = { rateHz: meta.sample_rate_hz, windowSamples: meta.window_samples, hopSamples: meta.hop_samples, channels: meta.channels.length, maxGapSec: o.maxGapSec ?? 1, ...(axes ? { impact: { spec: { ...THRESHOLD_DEFINITION, rateHz: meta.sample_rate_hz }, axes } } : {}) };
    const byMemory = o.maxStateBytes !== undefined ? Math.floor(o.maxStateBytes / ImuTimeline.bytesFor(spec)) : Infinity;
    const maxStreams = Math.max(1, Math.min(o.maxDevices ?? Infinity, byMemory));
    // An evicted device starts a fresh window when it sends again: smoothing and sustain start over (its cooldown stays).
    this.streams = new ImuStreams(spec, o.idleMs, maxStreams, (id) => decider.restartRun(id));
    this.pick = meta.channels.map((c) => ({ source: c.source, axis: c.axis }));
    const s = decider.settings;
    this.ready = Object.fromEntries(
      PLACEMENTS.map((p) => {
        const r = o.rules?.[p] ?? { detector: 'model' as const, impactConfirm: 0, threshold: s.threshold, smoothK: s.smoothK, sustainK: s.sustainK, modelPath: '' };
        if (r.detector !== 'model' && !axes) throw new Error(`placement ${p}: the threshold detector needs the model's acc x, y and z channels`);
        return [p, { ...r, model: o.models?.get(r.modelPath) ?? model }];
      }),
    ) as Record<Placement, Ready>;
    this.stats = o.stats ?? emptyPlacementStats();
  }

  get requiresGyro(): boolean {
    return this.meta.requires_gyro;
  }

  /** How a placement decides. */
  rule(placement: Placement): Readonly<PlacementRule> {
    return this.ready[placement];
  }

  /** Epoch seconds of a chunk's first sample: its t0, else where the device's previous chunk ended, else now. */
  chunkStart(deviceId: string, t0: number | undefined, nowSec = Date.now() / 1000): number {
    return t0 ?? this.streams.peek(deviceId)?.nextStart ?? nowSec;
  }

  /** Feeds one chunk (already validated) and resolves with the falls it decided. */
  ingest(deviceId: string, chunk: ImuChunk, nowSec = Date.now() / 1000): Promise<ChunkOutcome> {
    const prev = this.chains.get(deviceId) ?? Promise.resolve();
    const next = prev.then(() => this.process(deviceId, chunk, nowSec));
    const tail = next.catch(() => undefined);
    this.chains.set(deviceId, tail);
    void tail.then(() => {
      if (this.chains.get(deviceId) === tail) this.chains.delete(deviceId);
    });
    return next;
  }

  private async process(deviceId: string, chunk: ImuChunk, nowSec: number): Promise<ChunkOutcome> {
    const placement = chunk.placement ?? 'unknown';
    const rule = this.ready[placement];
    const samples = this.gridValues(chunk);
    const stream = this.streams.get(deviceId, nowSec * 1000);
    // Another placement may mean other knobs or another model: smoothing and sustain start again.
    if (stream.placement !== undefined && stream.placement !== placement) this.decider.restartRun(deviceId);
    stream.placement = placement;
    const restarts = stream.restarts;
    const start = chunk.t0 ?? stream.nextStart ?? nowSec;
    const { accepted, windows, impacts } = stream.push({ t0: chunk.t0, rateHz: chunk.rateHz, samples }, nowSec);
    stream.trail.samples(start, chunk.rateHz, chunk.acc);
    // Windows before and after a gap are not consecutive: smoothing and sustain start again.
    if (stream.restarts !== restarts) this.decider.restartRun(deviceId);
    const byModel = rule.detector !== 'threshold';
    const byThreshold = rule.detector !== 'model';
    const probs = byModel || this.o.scoreAll ? await Promise.all(windows.map((w) => rule.model.score(w.data))) : [];
    const scored = probs.map((prob, i) => ({ ts: windows[i]!.endTs, prob }));
    const decisions: Decision[] = [];
    // In time order: a window and a threshold decision of the same fall meet the cooldown in the order they happened.
    let k = 0;
    const feedWindowsUntil = (ts: number) => {
      for (; k < scored.length && scored[k]!.ts <= ts; k++) {
        const w = scored[k]!;
        stream.trail.prob(w.ts, w.prob);
        const d = byModel ? this.decider.onModelWindow(deviceId, w.ts, w.prob, rule) : undefined;
        if (d) decisions.push(d);
      }
    };
    const confirm = rule.detector === 'either' ? rule.impactConfirm : 0;
    for (const hit of impacts) {
      feedWindowsUntil(hit.ts);
      // Window end times are sample times computed from t0: a microsecond of slack for their rounding.
      const confirmed = confirm <= 0 || stream.trail.maxProb(hit.impactTs - 1e-6, hit.ts + 1e-6) >= confirm;
      const d = byThreshold && confirmed ? this.decider.onThreshold(deviceId, hit.ts) : undefined;
      if (d) decisions.push(d);
    }
    feedWindowsUntil(Infinity);
    const st = this.stats[placement];
    if (byModel) st.windows += scored.length;
    st.decisions += decisions.length;
    this.o.onChunk?.(deviceId);
    return { accepted, windows: windows.length, decisions, placement, scored, impacts };
  }

  /** The chunk's samples as the model's channels, one sample after the other. */
  private gridValues(chunk: ImuChunk): Float64Array {
    const pick = this.pick;
    const ch = pick.length;
    const out = new Float64Array(chunk.acc.length * ch);
    for (let i = 0; i < chunk.acc.length; i++) {
      const a = chunk.acc[i]!;
      const g = chunk.gyro?.[i];
      for (let c = 0; c < ch; c++) out[i * ch + c] = pick[c]!.source === 'acc' ? a[pick[c]!.axis]! : g![pick[c]!.axis]!;
    }
    return out;
  }

  /** The device's recent motion (undefined once its stream is gone). */
  trail(deviceId: string): MotionTrail | undefined {
    return this.streams.peek(deviceId)?.trail;
  }

  forget(deviceId: string): void {
    this.streams.delete(deviceId);
    this.decider.forget(deviceId);
  }

  /** Drops the state of devices idle for longer than the idle limit; returns how many. */
  sweep(nowMs = Date.now()): number {
    const gone = this.streams.sweep(nowMs);
    for (const id of gone) this.decider.forget(id);
    return gone.length;
  }
}
