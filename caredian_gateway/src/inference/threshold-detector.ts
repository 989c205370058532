// The classic impact + posture-change fall detector, streaming, one per device on the model's
// sample grid. It is the reference every placement must never do worse than; training/threshold.py
// is the same detector in Python (the knobs are chosen against it), so a change here must be made
// there too, and the model card's figures redone. A sample whose acceleration magnitude (g,
// gravity included) exceeds `impactG` is an impact candidate; the posture before it (mean
// acceleration vector over [i - preFromSec, i - preToSec), at least minPreSec of it) and after it
// (mean over [i + postFromSec, i + postToSec]) differ by more than `angleDeg`: a fall, decided when
// sample i + postToSec has arrived. After a decision, candidates up to `refractorySec` after the
// decision are ignored (the runtime's cooldown does the rest).

export interface ThresholdSpec {
  rateHz: number;
  impactG: number;
  preFromSec: number;
  preToSec: number;
  minPreSec: number;
  postFromSec: number;
  postToSec: number;
  angleDeg: number;
  refractorySec: number;
}

/** The contract's definition (rateHz is the model's). */
export const THRESHOLD_DEFINITION: Omit<ThresholdSpec, 'rateHz'> = {
  impactG: 2.5,
  // [i - 3.0 s, i - 1.0 s): the second before the impact already holds the falling motion.
  preFromSec: 3.0,
  preToSec: 1.0,
  minPreSec: 0.5,
  postFromSec: 1.5,
  postToSec: 3.0,
  angleDeg: 60,
  refractorySec: 3,
};

export interface ImpactDecision {
  /** Epoch seconds of the sample that decided (the impact + postToSec). */
  ts: number;
  /** Epoch seconds of the impact sample. */
  impactTs: number;
  /** Posture change, degrees. */
  angleDeg: number;
  /** Magnitude at the impact, g. */
  peakG: number;
}

export class ThresholdDetector {
  private readonly ring: Float32Array;
  private readonly cap: number;
  /** Samples since the last reset; the next sample's index. */
  private n = 0;
  private pending: number[] = [];
  private quietThrough = -1;
  private readonly preFrom: number;
  private readonly preTo: number;
  private readonly minPre: number;
  private readonly postFrom: number;
  private readonly postTo: number;
  private readonly refractory: number;
  private readonly impact2: number;
  private readonly cosMax: number;

  constructor(readonly spec: ThresholdSpec) {
    const s = (sec: number) => Math.round(sec * spec.rateHz);
    this.preFrom = s(spec.preFromSec);
    this.preTo = s(spec.preToSec);
    this.minPre = Math.max(1, s(spec.minPreSec));
    this.postFrom = s(spec.postFromSec);
    this.postTo = s(spec.postToSec);
    this.refractory = s(spec.refractorySec);
    this.impact2 = spec.impactG * spec.impactG;
    this.cosMax = Math.cos((spec.angleDeg * Math.PI) / 180);
    this.cap = this.preFrom + this.postTo + 1;
    this.ring = new Float32Array(this.cap * 3);
  }

  static bytesFor(spec: ThresholdSpec): number {
    return Math.round((spec.preFromSec + spec.postToSec) * spec.rateHz + 1) * 12 + 256;
  }

  /** One sample of the grid (g, device frame) at epoch seconds `ts`; a fall if this sample decides one. */
  push(ts: number, x: number, y: number, z: number): ImpactDecision | undefined {
    const j = this.n++;
    const at = (j % this.cap) * 3;
    this.ring[at] = x;
    this.ring[at + 1] = y;
    this.ring[at + 2] = z;
    if (j > this.quietThrough && x * x + y * y + z * z > this.impact2) this.pending.push(j);
    while (this.pending.length && this.pending[0]! + this.postTo <= j) {
      const c = this.pending.shift()!;
      const angle = this.postureChange(c);
      if (angle === undefined || angle.cos >= this.cosMax) continue;
      this.quietThrough = j + this.refractory;
      this.pending = [];
      const k = (c % this.cap) * 3;
      const peak = Math.sqrt(this.ring[k]! ** 2 + this.ring[k + 1]! ** 2 + this.ring[k + 2]! ** 2);
      return { ts, impactTs: ts - (j - c) / this.spec.rateHz, angleDeg: (Math.acos(Math.max(-1, Math.min(1, angle.cos))) * 180) / Math.PI, peakG: peak };
    }
    return undefined;
  }

  private postureChange(c: number): { cos: number } | undefined {
    const preStart = Math.max(0, c - this.preFrom);
    const preEnd = c - this.preTo;
    if (preEnd - preStart < this.minPre) return undefined;
    const pre = this.mean(preStart, preEnd);
    const post = this.mean(c + this.postFrom, c + this.postTo + 1);
    const norm = Math.hypot(pre[0], pre[1], pre[2]) * Math.hypot(post[0], post[1], post[2]);
    if (norm < 1e-9) return undefined;
    return { cos: (pre[0] * post[0] + pre[1] * post[1] + pre[2] * post[2]) / norm };
  }

  /** Mean vector of samples [from, to). */
  private mean(from: number, to: number): [number, number, number] {
    let x = 0;
    let y = 0;
    let z = 0;
    for (let i = from; i < to; i++) {
      const k = (i % this.cap) * 3;
      x += this.ring[k]!;
      y += this.ring[k + 1]!;
      z += this.ring[k + 2]!;
    }
    const n = to - from;
    return [x / n, y / n, z / n];
  }

  /** A gap in the data: what came before is not continuous with what follows. */
  reset(): void {
    this.n = 0;
    this.pending = [];
    this.quietThrough = -1;
  }
}
