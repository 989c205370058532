// The cost of each ONNX session run and how many windows it scored (window-model.ts tells every
// run in this process). Windows that come due together share a run, so the batch size says how
// well the model's cost is shared out under load.
import { Histogram, type Registry } from 'prom-client';
import { observeBatches } from '../inference/window-model.js';

const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Up to the model's largest batch (256 windows). */
const SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

export class ModelBatchMetrics {
  private readonly duration: Histogram;
  private readonly size: Histogram;
  private unsubscribe?: () => void;

  constructor(registry: Registry) {
    const registers = [registry];
    this.duration = new Histogram({ name: 'caredian_model_batch_duration_seconds', help: 'One ONNX session run of the fall model (a batch of windows), from the run starting to its result', buckets: DURATION_BUCKETS, registers });
    this.size = new Histogram({ name: 'caredian_model_batch_windows', help: 'Windows scored by one ONNX session run of the fall model', buckets: SIZE_BUCKETS, registers });
  }

  start(): void {
    this.unsubscribe ??= observeBatches((seconds, windows) => {
      this.duration.observe(seconds);
      this.size.observe(windows);
    });
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
