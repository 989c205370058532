// Fall inference as a gateway module: reads the model's metadata, sets up the decision policy
// (config knobs over the metadata's defaults), loads the ONNX session at start and sweeps idle
// devices. When inference is off or the model cannot be loaded, the policy falls back to the
// device's own reports so a fall never goes unalerted because of the model.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { FallDecider, type DecisionMode } from './fall-decider.js';
import { FallInference } from './fall-inference.js';
import { FallMotionRecorder, type FallMotion } from './fall-motion.js';
import { metaPathFor, readModelMeta, type ModelMeta } from './model-meta.js';
import { OnnxWindowModel } from './window-model.js';

export const DEFAULT_MODEL_PATH = fileURLToPath(new URL('../../models/fallnet.onnx', import.meta.url));
const SWEEP_MS = 60_000;
/** How long the status warns after the motion state cap evicted a device that was still streaming. */
const EVICTION_WARN_MS = 10 * 60_000;
/** Decision knobs when no model metadata is available (sensor reports only). */
const NO_MODEL = { threshold: 0.5, smooth_k: 1, sustain_k: 1 };

export class FallInferenceModule implements GatewayModule {
  readonly name = 'model';
  readonly decider: FallDecider;
  readonly modelPath: string;
  readonly metaPath: string;
  /** The motion around each fall the model decides (the page's plot). */
  private readonly motion: FallMotionRecorder;
  private meta?: ModelMeta;
  private model?: OnnxWindowModel;
  private runtime?: FallInference;
  private problem?: string;
  private timer?: NodeJS.Timeout;
  private unsubscribe?: () => void;

  constructor(
    private readonly c: Config,
    private readonly log: Logger,
    /** Tells the decider of acknowledged alerts (a fall after help arrived alerts again). */
    private readonly bus?: GatewayBus,
  ) {
    this.modelPath = c.fall_model_path ?? DEFAULT_MODEL_PATH;
    this.metaPath = c.fall_meta_path ?? metaPathFor(this.modelPath);
    if (c.fall_inference_enabled) {
      try {
        this.meta = readModelMeta(this.metaPath);
      } catch (err) {
        this.problem = `model metadata unusable: ${(err as Error).message}`;
      }
    }
    const k = this.meta?.decision ?? NO_MODEL;
    this.decider = new FallDecider({
      threshold: c.fall_threshold ?? k.threshold,
      smoothK: c.fall_smooth_k ?? k.smooth_k,
      sustainK: c.fall_ai_sustain_k ?? k.sustain_k,
      cooldownSec: c.fall_cooldown_sec,
      mode: this.modeWithoutModel(c.fall_decision_mode),
      andWindowSec: c.fall_and_window_sec,
    });
    this.motion = new FallMotionRecorder(join(c.data_dir, 'fall-motion'), () => this.decider.settings.threshold, log);
    if (this.meta && c.fall_seq_len !== undefined && c.fall_seq_len !== this.meta.window_samples)
      log.warn({ fall_seq_len: c.fall_seq_len, window_samples: this.meta.window_samples }, 'FALL_SEQ_LEN is ignored: the window length comes from the model metadata');
  }

  /** Until the model is loaded (and for good when it is off) only device reports can decide. */
  private modeWithoutModel(mode: DecisionMode): DecisionMode {
    return mode === 'sensor_or_model' || mode === 'sensor_only' ? mode : 'sensor_only';
  }

  get inference(): FallInference | undefined {
    return this.runtime;
  }

  /** Keeps the motion from 10 s before to 10 s after a fall the model decided (stored as `eventId`). */
  keepMotion(deviceId: string, eventId: string, ts: number): void {
    this.motion.capture(deviceId, eventId, ts, this.runtime?.trail(deviceId));
  }

  /** The motion kept around a fall, if the model decided it. */
  motionOf(eventId: string): FallMotion | undefined {
    return this.motion.read(eventId);
  }

  unavailable(): string {
    if (!this.c.fall_inference_enabled) return 'fall inference is disabled on this gateway (FALL_INFERENCE_ENABLED=false / fall_inference_enabled)';
    return this.problem ?? 'the fall model is still loading';
  }

  async start(): Promise<void> {
    this.unsubscribe = this.bus?.on('alert.notice', (n) => {
      if (n.type === 'fall_acknowledged' && !n.alert.test) this.decider.acknowledged(n.alert.device_id);
    });
    const wanted = this.c.fall_decision_mode;
    if (!this.c.fall_inference_enabled) {
      if (wanted !== this.decider.mode) this.log.warn({ fall_decision_mode: wanted }, 'fall inference is disabled: falls reported by devices alert on their own (sensor_only)');
      return;
    }
    if (!this.problem && !existsSync(this.modelPath)) this.problem = `no model file at ${this.modelPath}`;
    if (!this.problem && this.meta!.sha256 && createHash('sha256').update(readFileSync(this.modelPath)).digest('hex') !== this.meta!.sha256)
      this.problem = `${this.modelPath} does not match the sha256 in ${this.metaPath}`;
    if (!this.problem) {
      try {
        this.model = await OnnxWindowModel.load(this.modelPath, this.meta!);
        this.motion.start();
        this.runtime = new FallInference(this.meta!, this.model, this.decider, { maxDevices: this.c.max_devices, maxStateBytes: this.c.imu_state_max_mb * 1024 * 1024, onChunk: (id) => this.motion.progress(id) });
        this.decider.setMode(wanted);
        this.timer = setInterval(() => {
          this.runtime?.sweep();
          this.motion.tick();
        }, SWEEP_MS);
        this.timer.unref();
        const d = this.decider.settings;
        this.log.info({ model: this.meta!.name, version: this.meta!.version, rate_hz: this.meta!.sample_rate_hz, window: this.meta!.window_samples, hop: this.meta!.hop_samples, threshold: d.threshold, smooth_k: d.smoothK, sustain_k: d.sustainK, mode: d.mode }, 'fall model loaded');
        return;
      } catch (err) {
        this.problem = `model could not be loaded: ${(err as Error).message}`;
      }
    }
    this.log.error({ problem: this.problem, fall_decision_mode: wanted }, 'fall inference unavailable: falls reported by devices alert on their own');
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.runtime = undefined;
    await this.motion.flush();
    await this.model?.close();
    this.model = undefined;
  }

  status(): ModuleStatus {
    if (!this.c.fall_inference_enabled) return { ready: true, detail: 'disabled', mode: this.decider.mode };
    if (!this.runtime) return { ready: false, detail: this.unavailable(), mode: this.decider.mode };
    const d = this.decider.settings;
    const st = this.runtime.streams;
    const base = { ready: true, detail: `${this.meta!.name} ${this.meta!.version}`, mode: d.mode, threshold: d.threshold, smooth_k: d.smoothK, sustain_k: d.sustainK, devices: st.size, max_devices: st.maxStreams, state_bytes: st.bytes, evicted: st.evicted, windows_scored: this.model!.stats.windows, batches: this.model!.stats.runs };
    if (st.lastActiveEvictionMs !== undefined && Date.now() - st.lastActiveEvictionMs < EVICTION_WARN_MS)
      return { ...base, warning: `more devices stream motion data than the model's memory holds (${st.maxStreams} devices, imu_state_max_mb / max_devices): devices sending least recently lose their window, and their falls may be decided late or missed` };
    return base;
  }
}
