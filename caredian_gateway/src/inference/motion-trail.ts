// The last half minute of one device's motion, for showing what happened around a fall: the
// acceleration magnitude on a fixed grid (the model's rate, the largest value per grid step, so an
// impact's peak survives any input rate) and the model's window probabilities. Fixed-size rings:
// a few KB per device, one square root per input sample.

/** Seconds the trail keeps: 10 s before a fall, 10 s after, and one chunk (up to 10 s) of slack. */
export const TRAIL_SEC = 32;
const NO_DATA = 0xffff;
/** Magnitudes are kept in milli-g (at most 64 g reaches the model: see imu-schema). */
const UNIT = 1000;

export interface TrailExtract {
  /** Epoch seconds of the first magnitude. */
  start: number;
  rateHz: number;
  /** g, one per grid step; null where no sample arrived. */
  magnitude: (number | null)[];
  /** [epoch seconds of the window's last sample, probability]. */
  prob: [number, number][];
}

export class MotionTrail {
  private readonly mags: Uint16Array;
  /** Grid step of the newest magnitude (epoch seconds × rate, rounded). */
  private lastK = -Infinity;
  private readonly probTs: Float64Array;
  private readonly probV: Float32Array;
  private probCount = 0;

  constructor(
    readonly rateHz: number,
    hopSec: number,
  ) {
    this.mags = new Uint16Array(Math.ceil(TRAIL_SEC * rateHz)).fill(NO_DATA);
    const n = Math.ceil(TRAIL_SEC / hopSec) + 4;
    this.probTs = new Float64Array(n);
    this.probV = new Float32Array(n);
  }

  static bytesFor(rateHz: number, hopSec: number): number {
    return Math.ceil(TRAIL_SEC * rateHz) * 2 + (Math.ceil(TRAIL_SEC / hopSec) + 4) * 12 + 128;
  }

  /** Epoch seconds of the newest magnitude, or -Infinity. */
  get latest(): number {
    return this.lastK / this.rateHz;
  }

  /** Samples of a chunk starting at `start` (epoch seconds). A retry's samples land on the same steps. */
  samples(start: number, rateHz: number, acc: number[][]): void {
    for (let i = 0; i < acc.length; i++) {
      const a = acc[i]!;
      const m = Math.sqrt(a[0]! * a[0]! + a[1]! * a[1]! + a[2]! * a[2]!);
      this.put(Math.round((start + i / rateHz) * this.rateHz), Math.min(NO_DATA - 1, Math.round(m * UNIT)));
    }
  }

  private put(k: number, v: number): void {
    const cap = this.mags.length;
    if (k > this.lastK) {
      // Steps skipped over (a gap) hold no data.
      if (k - this.lastK >= cap) this.mags.fill(NO_DATA);
      else for (let j = this.lastK + 1; j < k; j++) this.mags[j % cap] = NO_DATA;
      this.lastK = k;
      this.mags[k % cap] = v;
      return;
    }
    if (this.lastK - k >= cap) return;
    const slot = k % cap;
    if (this.mags[slot] === NO_DATA || this.mags[slot]! < v) this.mags[slot] = v;
  }

  prob(endTs: number, p: number): void {
    const i = this.probCount++ % this.probTs.length;
    this.probTs[i] = endTs;
    this.probV[i] = p;
  }

  /** The highest window probability among windows ending between two epoch times (both included); 0 if none. */
  maxProb(from: number, to: number): number {
    let best = 0;
    const n = Math.min(this.probCount, this.probTs.length);
    for (let j = this.probCount - n; j < this.probCount; j++) {
      const i = j % this.probTs.length;
      const t = this.probTs[i]!;
      if (t >= from && t <= to && this.probV[i]! > best) best = this.probV[i]!;
    }
    return best;
  }

  /** What the trail holds between two epoch times. */
  extract(from: number, to: number): TrailExtract {
    const cap = this.mags.length;
    const first = Math.max(Math.ceil(from * this.rateHz), this.lastK - cap + 1);
    const last = Math.min(Math.floor(to * this.rateHz), this.lastK);
    const magnitude: (number | null)[] = [];
    for (let k = first; k <= last; k++) {
      const v = this.mags[k % cap]!;
      magnitude.push(v === NO_DATA ? null : v / UNIT);
    }
    const prob: [number, number][] = [];
    const n = Math.min(this.probCount, this.probTs.length);
    for (let j = this.probCount - n; j < this.probCount; j++) {
      const i = j % this.probTs.length;
      const t = this.probTs[i]!;
      if (t >= from && t <= to) prob.push([t, Math.round(this.probV[i]! * 1e4) / 1e4]);
    }
    return { start: first / this.rateHz, rateHz: this.rateHz, magnitude, prob };
  }
}
