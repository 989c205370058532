// The fall model's cost per ONNX session run and its batch size: what the model itself reports
// (the shipped model, real runs), and what GET /metrics shows after devices stream motion data.
import { syntheticWalk } from '../../src/cli/synthetic-motion.js';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { observeBatches, OnnxWindowModel } from '../../src/inference/window-model.js';
import { ADMIN_TOKEN, startGateway } from '../support/harness.js';
import { parseExposition, total } from './exposition.js';

describe('the model tells of each session run', () => {
  let model: OnnxWindowModel;
  beforeAll(async () => {
    model = await OnnxWindowModel.load(DEFAULT_MODEL_PATH, readModelMeta(metaPathFor(DEFAULT_MODEL_PATH)));
  });
  afterAll(() => model.close());

  test('one call per run, with its duration and window count; none after unsubscribing, none for a run that fails', async () => {
    const seen: [number, number][] = [];
    const stop = observeBatches((s, n) => seen.push([s, n]));
    await model.scoreBatch(new Float32Array(3 * model.windowValues), 3);
    // Queued windows that come due together share one run.
    await Promise.all([0, 1, 2, 3, 4].map(() => model.score(new Float32Array(model.windowValues))));
    await expect(model.scoreBatch(new Float32Array(model.windowValues + 1), 1)).rejects.toThrow();
    await expect(model.score(new Float32Array(7))).rejects.toThrow();
    stop();
    await model.scoreBatch(new Float32Array(model.windowValues), 1);
    expect(seen.map(([, n]) => n)).toEqual([3, 5]);
    for (const [s] of seen) expect(s > 0 && s < 60).toBe(true);
    expect(model.stats).toEqual({ runs: 3, windows: 9 });
  });
});

describe('GET /metrics', () => {
  test('caredian_model_batch_duration_seconds and caredian_model_batch_windows follow the runs the gateway makes', async () => {
    const h = await startGateway();
    try {
      const scrape = async () => parseExposition(await (await fetch(`${h.adminUrl}/metrics`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).text());
      const token = await h.token('events:imu:ingest');
      const before = await scrape();
      const rec = syntheticWalk(12);
      const t0 = Math.floor(Date.now() / 1000) - 60;
      // Two devices at once, so windows of both can meet in one run.
      for (let i = 0; i < rec.acc.length; i += 100) {
        const rs = await Promise.all(['batch-1', 'batch-2'].map((device_id) => fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id, rate_hz: 50, t0: t0 + i / 50, acc: rec.acc.slice(i, i + 100) }) })));
        for (const r of rs) expect(r.status).toBe(200);
      }
      const after = await scrape();
      const delta = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);
      const runs = delta('caredian_model_batches_total');
      expect(runs).toBeGreaterThan(0);
      expect(delta('caredian_model_batch_duration_seconds_count')).toBe(runs);
      expect(delta('caredian_model_batch_windows_count')).toBe(runs);
      expect(delta('caredian_model_batch_duration_seconds_sum')).toBeGreaterThan(0);
      // Every window scored is in exactly one run.
      expect(delta('caredian_model_batch_windows_sum')).toBe(delta('caredian_model_windows_total'));
      expect(delta('caredian_model_batch_windows_bucket', { le: '256' })).toBe(runs);
      expect(delta('caredian_model_batch_windows_bucket', { le: '+Inf' })).toBe(runs);
      expect(after.get('caredian_model_batch_duration_seconds')!.type).toBe('histogram');
    } finally {
      await h.close();
    }
  }, 60_000);
});
