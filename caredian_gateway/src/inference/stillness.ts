// After a decided fall, the motion data that keeps arriving says whether the wearer lies still
// (no meaningful movement, posture unchanged) or is up and moving again. Each second of samples is
// judged on its own: still when the acceleration magnitude hardly varies and the gravity direction
// stays where it was; moving when it varies like steps do for a few seconds in a row.
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { isDecided } from '../domain/records.js';

export interface StillnessSettings {
  stillAfterSec: number;
  /** How long after a fall motion is watched at all. */
  watchSec?: number;
}

/** Standard deviation of |a| (g) below which a second counts as still (sensor noise is ~0.01 g). */
const STILL_STD_G = 0.04;
/** Posture: the gravity direction may turn by this much (degrees) and still count as unchanged. */
const STILL_TURN_DEG = 15;
/** Standard deviation of |a| (g) above which a second counts as moving (walking is 0.15–0.4 g). */
const MOVING_STD_G = 0.12;
const MOVING_SECONDS = 3;
/** Seconds right after the fall that are not judged (the impact and its aftermath). */
const SETTLE_SEC = 2;

interface Watch {
  fallTs: number;
  until: number;
  /** Samples of the second being collected. */
  second: { start: number; mags: number[]; sum: [number, number, number] } | undefined;
  /** Gravity direction (unit vector) of the first still second. */
  posture?: [number, number, number];
  stillSince?: number;
  movingRun: number;
  lastSampleTs: number;
  saidStill: boolean;
  saidMoving: boolean;
}

export class StillnessWatcher implements GatewayModule {
  readonly name = 'stillness';
  private watches = new Map<string, Watch>();
  private unsub?: () => void;

  constructor(
    private readonly bus: GatewayBus,
    private readonly s: StillnessSettings,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsub = this.bus.on('event.stored', (e) => {
      if (e.kind === 'fall' && e.event === 'fall' && isDecided(e)) this.onFall(e.device_id, Number(BigInt(e.ts_ns) / 1_000_000n) / 1000);
    });
  }

  async stop(): Promise<void> {
    this.unsub?.();
  }

  status(): ModuleStatus {
    return { ready: true, watching: this.watches.size, detail: `${this.watches.size} devices watched after a fall (still for ${this.s.stillAfterSec} s alerts at once)` };
  }

  onFall(deviceId: string, fallTs: number): void {
    const watchSec = this.s.watchSec ?? Math.max(120, this.s.stillAfterSec * 4);
    this.watches.set(deviceId, { fallTs, until: fallTs + watchSec, second: undefined, movingRun: 0, lastSampleTs: fallTs, saidStill: false, saidMoving: false });
  }

  /** A chunk of acceleration samples (g, device frame) starting at `t0` (epoch s). */
  feed(deviceId: string, t0: number, rateHz: number, acc: number[][]): void {
    const w = this.watches.get(deviceId);
    if (!w) return;
    for (let i = 0; i < acc.length; i++) {
      const t = t0 + i / rateHz;
      // Retried samples (and those before the fall and its settling) are not judged.
      if (t <= w.lastSampleTs || t < w.fallTs + SETTLE_SEC) continue;
      w.lastSampleTs = t;
      if (t > w.until) {
        this.watches.delete(deviceId);
        return;
      }
      const [x, y, z] = acc[i] as [number, number, number];
      if (!w.second || t - w.second.start >= 1) {
        if (w.second) this.judge(deviceId, w, w.second);
        w.second = { start: t, mags: [], sum: [0, 0, 0] };
      }
      w.second.mags.push(Math.hypot(x, y, z));
      w.second.sum[0] += x;
      w.second.sum[1] += y;
      w.second.sum[2] += z;
    }
  }

  private judge(deviceId: string, w: Watch, sec: NonNullable<Watch['second']>): void {
    const n = sec.mags.length;
    if (n < 5) return;
    const mean = sec.mags.reduce((a, b) => a + b, 0) / n;
    const std = Math.sqrt(sec.mags.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    const g = unit(sec.sum);
    const turned = w.posture && g ? angleDeg(w.posture, g) : 0;
    if (std < STILL_STD_G && turned < STILL_TURN_DEG && g) {
      w.posture ??= g;
      w.stillSince ??= sec.start;
      w.movingRun = 0;
      if (!w.saidStill && sec.start + 1 - w.stillSince >= this.s.stillAfterSec) {
        w.saidStill = true;
        this.log.warn({ device_id: deviceId, still_sec: Math.round(sec.start + 1 - w.stillSince) }, 'the wearer lies still after the fall');
        this.bus.emit('motion.still', { device_id: deviceId });
      }
      return;
    }
    // Any movement (or a turn of posture) ends a still stretch; a new one starts from its own posture.
    w.stillSince = undefined;
    w.posture = undefined;
    w.movingRun = std > MOVING_STD_G ? w.movingRun + 1 : 0;
    if (!w.saidMoving && w.movingRun >= MOVING_SECONDS) {
      w.saidMoving = true;
      this.log.info({ device_id: deviceId }, 'the wearer is moving again after the fall');
      this.bus.emit('motion.moving', { device_id: deviceId });
      this.watches.delete(deviceId);
    }
  }
}

function unit(v: [number, number, number]): [number, number, number] | undefined {
  const m = Math.hypot(...v);
  return m > 1e-6 ? [v[0] / m, v[1] / m, v[2] / m] : undefined;
}

function angleDeg(a: [number, number, number], b: [number, number, number]): number {
  const dot = Math.min(1, Math.max(-1, a[0] * b[0] + a[1] * b[1] + a[2] * b[2]));
  return (Math.acos(dot) * 180) / Math.PI;
}
