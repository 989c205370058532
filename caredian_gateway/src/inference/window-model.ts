// One ONNX session for every device. Windows that become due together (from concurrent requests,
// or several windows in one chunk) are run as one batch: callers queue a window and get its
// probability; the queue is flushed once per event-loop turn, one session run at a time.
import ort from 'onnxruntime-node';
import type { ModelMeta } from './model-meta.js';

export interface WindowModel {
  /** Probability for one window (windowSamples × channels values, sample-major). */
  score(window: Float32Array): Promise<number>;
  close(): Promise<void>;
}

/** Told of every session run in this process: how long it took (s) and how many windows it scored (the metrics). */
export type BatchObserver = (durationSec: number, windows: number) => void;
const batchObservers = new Set<BatchObserver>();

/** Observes every model's session runs from now on; returns how to stop. The observer must be cheap. */
export function observeBatches(fn: BatchObserver): () => void {
  batchObservers.add(fn);
  return () => batchObservers.delete(fn);
}

const MAX_BATCH = 16;

export interface BatchStats {
  runs: number;
  windows: number;
}

export class OnnxWindowModel implements WindowModel {
  private queue: { data: Float32Array; resolve: (p: number) => void; reject: (e: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;
  readonly stats: BatchStats = { runs: 0, windows: 0 };
  private readonly norm?: { mean: Float32Array; invStd: Float32Array };

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly meta: ModelMeta,
    private readonly maxBatch: number,
  ) {
    const { mean, std } = meta.normalisation;
    if (mean.some((m) => m !== 0) || std.some((s) => s !== 1)) this.norm = { mean: Float32Array.from(mean), invStd: Float32Array.from(std, (s) => 1 / s) };
  }

  static async load(modelPath: string, meta: ModelMeta, o: { threads?: number; maxBatch?: number } = {}): Promise<OnnxWindowModel> {
    const session = await ort.InferenceSession.create(modelPath, {
      intraOpNumThreads: o.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // The arena keeps the largest batch's buffers for good; without it idle memory stays small.
      enableCpuMemArena: false,
    });
    if (!session.inputNames.includes(meta.input.name)) throw new Error(`${modelPath} has no input named ${meta.input.name} (has ${session.inputNames.join(', ')})`);
    if (!session.outputNames.includes(meta.output.name)) throw new Error(`${modelPath} has no output named ${meta.output.name} (has ${session.outputNames.join(', ')})`);
    // A run blocks the event loop (onnxruntime-node runs on the calling thread): 16 windows take
    // ~1.5 ms and already reach the best windows/s measured here; 256 took 12-77 ms, a stall every
    // request waiting behind a burst of new streams felt.
    return new OnnxWindowModel(session, meta, o.maxBatch ?? MAX_BATCH);
  }

  get windowValues(): number {
    return this.meta.window_samples * this.meta.channels.length;
  }

  score(window: Float32Array): Promise<number> {
    if (window.length !== this.windowValues) return Promise.reject(new Error(`window has ${window.length} values, expected ${this.windowValues}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ data: window, resolve, reject });
      this.schedule();
    });
  }

  /** Runs a batch directly (benchmarks, evaluation): probabilities for n windows laid end to end. */
  async scoreBatch(data: Float32Array, n: number): Promise<Float32Array> {
    const input = this.norm ? this.normalise(data) : data;
    const feeds = { [this.meta.input.name]: new ort.Tensor('float32', input, [n, this.meta.window_samples, this.meta.channels.length]) };
    const started = performance.now();
    const out = await this.session.run(feeds);
    const seconds = (performance.now() - started) / 1000;
    this.stats.runs++;
    this.stats.windows += n;
    for (const fn of batchObservers) fn(seconds, n);
    const t = out[this.meta.output.name]!;
    const probs = t.data as Float32Array;
    if (probs.length !== n) throw new Error(`model returned ${probs.length} values for ${n} windows`);
    return probs;
  }

  private normalise(data: Float32Array): Float32Array {
    const out = new Float32Array(data.length);
    const c = this.meta.channels.length;
    const { mean, invStd } = this.norm!;
    for (let i = 0; i < data.length; i++) out[i] = (data[i]! - mean[i % c]!) * invStd[i % c]!;
    return out;
  }

  private schedule(): void {
    if (this.scheduled || this.running) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.running || !this.queue.length) return;
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatch);
    const data = new Float32Array(batch.length * this.windowValues);
    batch.forEach((b, i) => data.set(b.data, i * this.windowValues));
    try {
      const probs = await this.scoreBatch(data, batch.length);
      batch.forEach((b, i) => b.resolve(probs[i]!));
    } catch (err) {
      for (const b of batch) b.reject(err);
    } finally {
      this.running = false;
      if (this.queue.length) this.schedule();
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
