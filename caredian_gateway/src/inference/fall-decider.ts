// The seed's decision knobs: a window probability counts once its mean over the last `smoothK`
// windows is >= `threshold`, and a fall is the moment that has held for `sustainK` windows in a row.
// `mode` combines that with what the device itself reports (/events/fall with event=fall);
// `sensor_and_model` needs both within `andWindowSec`. After a decided fall, the device is quiet
// for `cooldownSec`. All times are the events' own (epoch seconds), never arrival times, except
// that a cooldown never starts later than the gateway's own clock: a device whose clock runs ahead
// cannot extend it. An acknowledged alert ends the device's cooldown: a fall after help arrived is
// a new emergency. Each placement may have its own knobs (passed with each window) and its own
// detector: a fall the threshold detector decided is a candidate like a model decision (the
// gateway's own, from the motion data), marked with the detector that decided it.

export type DecisionMode = 'model_only' | 'sensor_only' | 'sensor_or_model' | 'sensor_and_model';

export interface DeciderSettings {
  threshold: number;
  smoothK: number;
  sustainK: number;
  cooldownSec: number;
  mode: DecisionMode;
  andWindowSec: number;
}

export interface Decision {
  ts: number;
  prob: number;
  source: 'model' | 'sensor' | 'both';
  /** Which of the gateway's detectors decided (source model or both). */
  detector?: ImuDetector;
}

export type ImuDetector = 'model' | 'threshold';

export interface WindowKnobs {
  threshold: number;
  smoothK: number;
  sustainK: number;
}

interface Pending {
  ts: number;
  prob: number;
  detector?: ImuDetector;
}

export interface DeviceState {
  recent: number[];
  sustained: number;
  /** A model detection already counted for the current run above threshold. */
  fired: boolean;
  quietUntil: number;
  pendingModel?: Pending;
  pendingSensor?: Pending;
}

export class FallDecider {
  private devices = new Map<string, DeviceState>();

  private s: DeciderSettings;

  constructor(
    settings: DeciderSettings,
    /** The gateway's clock, epoch seconds. */
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {
    this.s = { ...settings };
  }

  get settings(): Readonly<DeciderSettings> {
    return this.s;
  }

  get mode(): DecisionMode {
    return this.s.mode;
  }

  setMode(mode: DecisionMode): void {
    this.s.mode = mode;
  }

  private state(id: string): DeviceState {
    let d = this.devices.get(id);
    if (!d) this.devices.set(id, (d = { recent: [], sustained: 0, fired: false, quietUntil: -Infinity }));
    return d;
  }

  /** One model window ending at `ts` with probability `prob`, judged with `k` (the placement's knobs; default the settings'). */
  onModelWindow(deviceId: string, ts: number, prob: number, k: WindowKnobs = this.s): Decision | undefined {
    const d = this.state(deviceId);
    d.recent.push(prob);
    while (d.recent.length > k.smoothK) d.recent.shift();
    const smoothed = d.recent.reduce((a, b) => a + b, 0) / d.recent.length;
    if (smoothed >= k.threshold) d.sustained++;
    else {
      d.sustained = 0;
      d.fired = false;
    }
    if (d.sustained < k.sustainK || d.fired) return undefined;
    d.fired = true;
    return this.candidate(d, 'model', ts, smoothed, 'model');
  }

  /** The threshold detector decided a fall at `ts` (it has no probability: 1). */
  onThreshold(deviceId: string, ts: number): Decision | undefined {
    return this.candidate(this.state(deviceId), 'model', ts, 1, 'threshold');
  }

  /** The device reported a fall itself. */
  onSensorFall(deviceId: string, ts: number, prob: number): Decision | undefined {
    return this.candidate(this.state(deviceId), 'sensor', ts, prob);
  }

  private candidate(d: DeviceState, kind: 'model' | 'sensor', ts: number, prob: number, detector?: ImuDetector): Decision | undefined {
    const { mode } = this.s;
    if (mode === 'model_only' && kind === 'sensor') return undefined;
    if (mode === 'sensor_only' && kind === 'model') return undefined;
    if (ts < d.quietUntil) return undefined;
    if (mode === 'sensor_and_model') {
      const other = kind === 'model' ? d.pendingSensor : d.pendingModel;
      if (other && Math.abs(ts - other.ts) <= this.s.andWindowSec) {
        d.pendingModel = d.pendingSensor = undefined;
        const by = detector ?? other.detector;
        return this.decide(d, { ts: Math.min(ts, other.ts), prob: Math.max(prob, other.prob), source: 'both', ...(by ? { detector: by } : {}) });
      }
      if (kind === 'model') d.pendingModel = { ts, prob, ...(detector ? { detector } : {}) };
      else d.pendingSensor = { ts, prob };
      return undefined;
    }
    return this.decide(d, { ts, prob, source: kind, ...(detector ? { detector } : {}) });
  }

  private decide(d: DeviceState, x: Decision): Decision {
    d.quietUntil = Math.min(x.ts, this.clock()) + this.s.cooldownSec;
    return x;
  }

  /** Someone acknowledged the device's alert: its next fall decides again, cooldown or not. */
  acknowledged(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (!d) return;
    d.quietUntil = -Infinity;
    d.pendingModel = d.pendingSensor = undefined;
  }

  /** Forgets the windows seen so far (after a gap in the data); the cooldown stays. */
  restartRun(deviceId: string): void {
    const d = this.devices.get(deviceId);
    if (d) Object.assign(d, { recent: [], sustained: 0, fired: false });
  }

  /** A copy of one device's state, to undo a decision whose event could not be stored. */
  snapshot(deviceId: string): DeviceState | undefined {
    const d = this.devices.get(deviceId);
    return d && { ...d, recent: [...d.recent] };
  }

  restore(deviceId: string, s: DeviceState | undefined): void {
    if (s) this.devices.set(deviceId, s);
    else this.devices.delete(deviceId);
  }

  forget(deviceId: string): void {
    this.devices.delete(deviceId);
  }
}
