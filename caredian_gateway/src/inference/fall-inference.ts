// The IMU path from a validated chunk to decisions: the device's timeline on the model's grid,
// the shared batched model, then the decision policy. The HTTP route and `npm run eval` both use
// exactly this class. Chunks of one device are processed in order; devices run concurrently, so
// their windows meet in the model's batches.
import type { ModelMeta } from './model-meta.js';
import { ImuStreams, ImuTimeline } from './imu-timeline.js';
import type { Decision, FallDecider } from './fall-decider.js';
import type { WindowModel } from './window-model.js';
import type { MotionTrail } from './motion-trail.js';

export interface ImuChunk {
  t0?: number;
  rateHz: number;
  acc: number[][];
  gyro?: number[][];
}

export interface ChunkOutcome {
  accepted: number;
  windows: number;
  decisions: Decision[];
}

export class FallInference {
  readonly streams: ImuStreams;
  private chains = new Map<string, Promise<unknown>>();
  private readonly pick: { source: 'acc' | 'gyro'; axis: number }[];

  constructor(
    readonly meta: ModelMeta,
    private readonly model: WindowModel,
    private readonly decider: FallDecider,
    private readonly o: { idleMs?: number; maxGapSec?: number; maxDevices?: number; maxStateBytes?: number; onChunk?: (deviceId: string) => void } = {},
  ) {
    const spec = { rateHz: meta.sample_rate_hz, windowSamples: meta.window_samples, hopSamples: meta.hop_samples, channels: meta.channels.length, maxGapSec: o.maxGapSec ?? 1 };
    const byMemory = o.maxStateBytes !== undefined ? Math.floor(o.maxStateBytes / ImuTimeline.bytesFor(spec)) : Infinity;
    const maxStreams = Math.max(1, Math.min(o.maxDevices ?? Infinity, byMemory));
    // An evicted device starts a fresh window when it sends again: smoothing and sustain start over (its cooldown stays).
    this.streams = new ImuStreams(spec, o.idleMs, maxStreams, (id) => decider.restartRun(id));
    this.pick = meta.channels.map((c) => ({ source: c.source, axis: c.axis }));
  }

  get requiresGyro(): boolean {
    return this.meta.requires_gyro;
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
    const samples = chunk.acc.map((a, i) => this.pick.map((p) => (p.source === 'acc' ? a[p.axis]! : chunk.gyro![i]![p.axis]!)));
    const stream = this.streams.get(deviceId, nowSec * 1000);
    const restarts = stream.restarts;
    const start = chunk.t0 ?? stream.nextStart ?? nowSec;
    const { accepted, windows } = stream.push({ t0: chunk.t0, rateHz: chunk.rateHz, samples }, nowSec);
    stream.trail.samples(start, chunk.rateHz, chunk.acc);
    // Windows before and after a gap are not consecutive: smoothing and sustain start again.
    if (stream.restarts !== restarts) this.decider.restartRun(deviceId);
    const probs = await Promise.all(windows.map((w) => this.model.score(w.data)));
    const decisions: Decision[] = [];
    windows.forEach((w, i) => {
      stream.trail.prob(w.endTs, probs[i]!);
      const d = this.decider.onModelWindow(deviceId, w.endTs, probs[i]!);
      if (d) decisions.push(d);
    });
    this.o.onChunk?.(deviceId);
    return { accepted, windows: windows.length, decisions };
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
