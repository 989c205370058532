// Fall inference as a gateway module: reads the model's metadata, sets up the decision policy
// (config knobs over the metadata's defaults), loads the ONNX session at start and sweeps idle
// devices. When inference is off or the model cannot be loaded, the policy falls back to the
// device's own reports so a fall never goes unalerted because of the model. Each placement decides
// its own way (placement-rules.ts); every model file is checked against its sha256 and loaded once.
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { FallDecider, type DecisionMode } from './fall-decider.js';
import { emptyPlacementStats, FallInference, type PlacementStats } from './fall-inference.js';
import { FallMotionRecorder, type FallMotion } from './fall-motion.js';
import { metaPathFor, readModelMeta, type ModelMeta } from './model-meta.js';
import { describeRule, modelFiles, overridesPlacementKnobs, placementRules, type ModelKnobs, type PlacementRules } from './placement-rules.js';
import { checkModelFiles, loadModelFiles } from './model-files.js';
import type { OnnxWindowModel } from './window-model.js';

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
  /** Per placement: windows the model scored and falls decided from motion data (read by the metrics). */
  readonly stats: PlacementStats = emptyPlacementStats();
  private meta?: ModelMeta;
  private rules?: PlacementRules;
  private model?: OnnxWindowModel;
  /** Every loaded model file, by path (the top-level model among them). */
  private models = new Map<string, OnnxWindowModel>();
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
        // The training record and figures (most of the file) are for people and `npm run eval`, not the runtime.
        const { training: _training, metrics: _metrics, ...meta } = readModelMeta(this.metaPath);
        this.meta = meta;
      } catch (err) {
        this.problem = `model metadata unusable: ${(err as Error).message}`;
      }
    }
    // The gateway's knobs, when set, replace the model's at every placement (DOCS: placements).
    const overrides: Partial<ModelKnobs> = { threshold: c.fall_threshold, smoothK: c.fall_smooth_k, sustainK: c.fall_ai_sustain_k };
    if (this.meta) {
      this.rules = placementRules(this.meta, this.modelPath, overrides);
      if (overridesPlacementKnobs(this.meta, overrides)) log.warn({ fall_threshold: c.fall_threshold, fall_smooth_k: c.fall_smooth_k, fall_ai_sustain_k: c.fall_ai_sustain_k }, "the gateway's fall knobs replace the model's own knobs at every placement; unset them to use the model's per-placement knobs");
    }
    const k = this.rules?.unknown ?? { threshold: c.fall_threshold ?? NO_MODEL.threshold, smoothK: c.fall_smooth_k ?? NO_MODEL.smooth_k, sustainK: c.fall_ai_sustain_k ?? NO_MODEL.sustain_k };
    this.decider = new FallDecider({
      threshold: k.threshold,
      smoothK: k.smoothK,
      sustainK: k.sustainK,
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
    const files = this.problem ? [] : modelFiles(this.meta!, this.rules!, this.modelPath);
    this.problem ??= checkModelFiles(files, this.metaPath);
    if (!this.problem) {
      try {
        this.models = await loadModelFiles(this.meta!, files, this.metaPath);
        this.model = this.models.get(this.modelPath)!;
        this.motion.start();
        this.runtime = new FallInference(this.meta!, this.model, this.decider, { maxDevices: this.c.max_devices, maxStateBytes: this.c.imu_state_max_mb * 1024 * 1024, onChunk: (id) => this.motion.progress(id), rules: this.rules, models: this.models, stats: this.stats });
        this.decider.setMode(wanted);
        this.timer = setInterval(() => {
          this.runtime?.sweep();
          this.motion.tick();
        }, SWEEP_MS);
        this.timer.unref();
        const d = this.decider.settings;
        this.log.info({ model: this.meta!.name, version: this.meta!.version, rate_hz: this.meta!.sample_rate_hz, window: this.meta!.window_samples, hop: this.meta!.hop_samples, threshold: d.threshold, smooth_k: d.smoothK, sustain_k: d.sustainK, mode: d.mode, files: files.length, placements: this.placementSummary() }, 'fall model loaded');
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
    for (const m of this.models.values()) await m.close();
    this.models.clear();
    this.model = undefined;
  }

  /** How each placement decides: { waist: 'model 0.86/1/1', ankle: 'threshold', ... }. */
  private placementSummary(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.rules ?? {}).map(([p, r]) => [p, describeRule(r, this.modelPath)]));
  }

  status(): ModuleStatus {
    if (!this.c.fall_inference_enabled) return { ready: true, detail: 'disabled', mode: this.decider.mode };
    if (!this.runtime) return { ready: false, detail: this.unavailable(), mode: this.decider.mode };
    const d = this.decider.settings;
    const st = this.runtime.streams;
    let windows = 0;
    let batches = 0;
    for (const m of this.models.values()) (windows += m.stats.windows), (batches += m.stats.runs);
    const base = { ready: true, detail: `${this.meta!.name} ${this.meta!.version}`, mode: d.mode, threshold: d.threshold, smooth_k: d.smoothK, sustain_k: d.sustainK, placements: this.placementSummary(), model_files: [...this.models.keys()].map((f) => basename(f)), devices: st.size, max_devices: st.maxStreams, state_bytes: st.bytes, evicted: st.evicted, windows_scored: windows, batches };
    if (st.lastActiveEvictionMs !== undefined && Date.now() - st.lastActiveEvictionMs < EVICTION_WARN_MS)
      return { ...base, warning: `more devices stream motion data than the model's memory holds (${st.maxStreams} devices, imu_state_max_mb / max_devices): devices sending least recently lose their window, and their falls may be decided late or missed` };
    return base;
  }
}
