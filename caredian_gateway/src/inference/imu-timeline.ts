// One device's IMU stream on the model's sample grid. Samples are placed on their own timeline
// (t0 + i / rate_hz), never on arrival time, so a recording replayed at any speed yields the same
// windows. Input at any rate is linearly resampled onto the model's rate; a chunk overlapping what
// was already received (a retry) is not fed twice; a gap of more than `maxGapSec` starts afresh.
// Each timeline also keeps its device's motion trail (what happened around a fall, for the page)
// and runs the threshold detector on the same grid samples the model's windows are made of.
import { MotionTrail } from './motion-trail.js';
import { ThresholdDetector, type ImpactDecision, type ThresholdSpec } from './threshold-detector.js';

export interface TimelineSpec {
  /** The model's sample rate. */
  rateHz: number;
  /** Samples per window, and samples between the ends of consecutive windows. */
  windowSamples: number;
  hopSamples: number;
  /** Values per sample (e.g. 6: ax ay az gx gy gz). */
  channels: number;
  maxGapSec?: number;
  /** The threshold detector, fed the acceleration at `axes` (indices into a sample) of every grid sample. */
  impact?: { spec: ThresholdSpec; axes: [number, number, number] };
}

export interface Chunk {
  /** Epoch seconds of the first sample; without it the chunk continues the previous one. */
  t0?: number;
  rateHz: number;
  /** One array of `channels` values per sample, or all samples' values one after the other. */
  samples: ArrayLike<number>[] | Float64Array;
}

export interface Window {
  /** Epoch seconds of the window's last sample. */
  endTs: number;
  /** windowSamples × channels values, oldest first, sample-major. */
  data: Float32Array;
}

export interface PushResult {
  /** Input samples used (after dropping what overlapped earlier chunks). */
  accepted: number;
  windows: Window[];
  /** Falls the threshold detector decided on this chunk's samples. */
  impacts: ImpactDecision[];
}

export class ImuTimeline {
  private ring: Float32Array;
  /** Grid samples written since the last reset. */
  private count = 0;
  /** Epoch seconds all internal times are relative to (epoch-scale doubles would cost precision). */
  private base?: number;
  private anchor = 0;
  /** Index of the next grid point to produce (time anchor + k / rateHz). */
  private k = 0;
  /** Time and values of the last input sample (undefined: none since the last reset). */
  private lastT?: number;
  private readonly lastV: Float64Array;
  /** Time the next input sample would have, for chunks without t0. */
  private expectedNext?: number;
  lastActivityMs = 0;
  /** How often a gap restarted the window (consumers reset what they derived from earlier windows). */
  restarts = 0;
  /** The last half minute of motion (magnitudes and the model's probabilities). */
  readonly trail: MotionTrail;
  private readonly detector?: ThresholdDetector;
  /** The placement the device's last chunk was decided for (set by FallInference). */
  placement?: string;

  constructor(private readonly spec: TimelineSpec) {
    this.ring = new Float32Array(spec.windowSamples * spec.channels);
    this.lastV = new Float64Array(spec.channels);
    this.trail = new MotionTrail(spec.rateHz, spec.hopSamples / spec.rateHz);
    if (spec.impact) this.detector = new ThresholdDetector(spec.impact.spec);
  }

  /** About what one timeline holds in memory: its ring, the last sample, its trail, its detector, and bookkeeping (measured). */
  static bytesFor(spec: TimelineSpec): number {
    return spec.windowSamples * spec.channels * 4 + spec.channels * 16 + 1024 + MotionTrail.bytesFor(spec.rateHz, spec.hopSamples / spec.rateHz) + (spec.impact ? ThresholdDetector.bytesFor(spec.impact.spec) : 0);
  }

  /** Epoch seconds at which a chunk without t0 would start, if one is expected. */
  get nextStart(): number | undefined {
    return this.expectedNext !== undefined && this.base !== undefined ? this.base + this.expectedNext : undefined;
  }

  push(chunk: Chunk, nowSec = Date.now() / 1000): PushResult {
    const { channels, rateHz } = this.spec;
    const flat = chunk.samples instanceof Float64Array ? chunk.samples : flatten(chunk.samples, channels);
    const n = flat.length / channels;
    if (!Number.isInteger(n)) throw new Error(`${flat.length} values are not whole samples of ${channels}`);
    const dt = 1 / chunk.rateHz;
    const t0Abs = chunk.t0 ?? (this.expectedNext !== undefined ? undefined : nowSec);
    this.base ??= t0Abs!;
    const t0 = t0Abs !== undefined ? t0Abs - this.base : this.expectedNext!;
    this.lastActivityMs = nowSec * 1000;
    const windows: Window[] = [];
    const impacts: ImpactDecision[] = [];
    const axes = this.spec.impact?.axes;
    const pv = this.lastV;
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      const t = t0 + i * dt;
      const o = i * channels;
      // Already received (a retry, or overlap with the previous chunk): not fed twice.
      if (this.lastT !== undefined && t <= this.lastT + 1e-9) continue;
      if (this.lastT !== undefined && t - this.lastT > (this.spec.maxGapSec ?? 1)) this.reset();
      accepted++;
      if (this.lastT === undefined) {
        this.anchor = t;
        this.k = 0;
        this.lastT = t;
        for (let c = 0; c < channels; c++) pv[c] = flat[o + c]!;
      }
      const pt = this.lastT;
      for (;;) {
        const g = this.anchor + this.k / rateHz;
        if (g > t + 1e-9) break;
        const span = t - pt;
        const f = span > 0 ? (g - pt) / span : 1;
        const at = (this.count % this.spec.windowSamples) * channels;
        for (let c = 0; c < channels; c++) this.ring[at + c] = pv[c]! + (flat[o + c]! - pv[c]!) * f;
        if (this.detector) {
          const [x, y, z] = axes!;
          const hit = this.detector.push(this.base + g, pv[x]! + (flat[o + x]! - pv[x]!) * f, pv[y]! + (flat[o + y]! - pv[y]!) * f, pv[z]! + (flat[o + z]! - pv[z]!) * f);
          if (hit) impacts.push(hit);
        }
        this.count++;
        this.k++;
        if (this.count >= this.spec.windowSamples && (this.count - this.spec.windowSamples) % this.spec.hopSamples === 0) windows.push({ endTs: this.base + g, data: this.window() });
      }
      this.lastT = t;
      for (let c = 0; c < channels; c++) pv[c] = flat[o + c]!;
    }
    if (n) this.expectedNext = t0 + n * dt;
    return { accepted, windows, impacts };
  }

  private window(): Float32Array {
    const { windowSamples: n, channels } = this.spec;
    const out = new Float32Array(n * channels);
    const start = this.count % n;
    out.set(this.ring.subarray(start * channels), 0);
    out.set(this.ring.subarray(0, start * channels), (n - start) * channels);
    return out;
  }

  private reset(): void {
    this.detector?.reset();
    this.restarts++;
    this.count = 0;
    this.k = 0;
    this.lastT = undefined;
  }
}

function flatten(samples: ArrayLike<number>[], channels: number): Float64Array {
  const flat = new Float64Array(samples.length * channels);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (v.length !== channels) throw new Error(`sample ${i} has ${v.length} values, expected ${channels}`);
    for (let c = 0; c < channels; c++) flat[i * channels + c] = v[c]!;
  }
  return flat;
}

/** A stream evicted while its device was still sending counts as active this long after its last chunk. */
const ACTIVE_MS = 60_000;

/**
 * Per-device timelines, at most `maxStreams` (the memory budget divided by one timeline's bytes):
 * a new device beyond that evicts the device that sent least recently. Devices idle for longer
 * than `idleMs` are dropped by the sweep.
 */
export class ImuStreams {
  /** In order of use, least recent first. */
  private streams = new Map<string, ImuTimeline>();
  readonly bytesPerStream: number;
  evicted = 0;
  /** When a stream of a device that was still sending was last evicted (epoch ms). */
  lastActiveEvictionMs?: number;

  constructor(
    private readonly spec: TimelineSpec,
    private readonly idleMs = 10 * 60_000,
    readonly maxStreams = Infinity,
    private readonly onEvict?: (deviceId: string) => void,
  ) {
    this.bytesPerStream = ImuTimeline.bytesFor(spec);
  }

  get(deviceId: string, nowMs = Date.now()): ImuTimeline {
    let s = this.streams.get(deviceId);
    if (s) {
      this.streams.delete(deviceId);
      this.streams.set(deviceId, s);
      return s;
    }
    while (this.streams.size >= this.maxStreams) this.evictOldest(nowMs);
    this.streams.set(deviceId, (s = new ImuTimeline(this.spec)));
    return s;
  }

  /** The device's timeline without counting it as used. */
  peek(deviceId: string): ImuTimeline | undefined {
    return this.streams.get(deviceId);
  }

  private evictOldest(nowMs: number): void {
    const [id, s] = this.streams.entries().next().value!;
    this.streams.delete(id);
    this.evicted++;
    if (nowMs - s.lastActivityMs < ACTIVE_MS) this.lastActiveEvictionMs = nowMs;
    this.onEvict?.(id);
  }

  get bytes(): number {
    return this.streams.size * this.bytesPerStream;
  }

  delete(deviceId: string): void {
    this.streams.delete(deviceId);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Drops devices idle for longer than `idleMs`; returns their ids. */
  sweep(nowMs = Date.now()): string[] {
    const gone: string[] = [];
    for (const [id, s] of this.streams) if (nowMs - s.lastActivityMs > this.idleMs) this.streams.delete(id), gone.push(id);
    return gone;
  }
}
