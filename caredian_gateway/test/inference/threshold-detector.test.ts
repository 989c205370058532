// The threshold detector (the contract's 2.5 g impact + posture change) as the runtime streams it:
// the same decisions as the contract's definition computed over a whole recording, whatever the
// chunking or the input rate; on real recordings of several devices and placements a fall is
// decided and a daily activity stays quiet.
import { ImuTimeline, type TimelineSpec } from '../../src/inference/imu-timeline.js';
import { THRESHOLD_DEFINITION, ThresholdDetector } from '../../src/inference/threshold-detector.js';
import { FallDecider } from '../../src/inference/fall-decider.js';
import { FallInference } from '../../src/inference/fall-inference.js';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { placementRules } from '../../src/inference/placement-rules.js';
import { OnnxWindowModel } from '../../src/inference/window-model.js';
import { impactIndex } from '../../src/eval/trials.js';
import { datasetTrial } from '../support/datasets.js';

const RATE = 50;
const T0 = 1_700_000_000;
const spec: TimelineSpec = { rateHz: RATE, windowSamples: 200, hopSamples: 25, channels: 3, impact: { spec: { ...THRESHOLD_DEFINITION, rateHz: RATE }, axes: [0, 1, 2] } };

/** The contract's definition, written out plainly over a whole recording: the sample indices that decide. */
function contract(acc: number[][]): number[] {
  const s = (sec: number) => Math.round(sec * RATE);
  const mean = (from: number, to: number) => [0, 1, 2].map((c) => acc.slice(from, to).reduce((t, v) => t + v[c]!, 0) / (to - from));
  const out: number[] = [];
  let ignoreTo = -1;
  for (let i = 0; i < acc.length; i++) {
    const [x, y, z] = acc[i]!;
    if (Math.hypot(x!, y!, z!) <= 2.5 || i <= ignoreTo) continue;
    const decide = i + s(3);
    if (decide >= acc.length) break;
    const lo = Math.max(0, i - s(3));
    const hi = i - s(1);
    if (hi - lo < s(0.5)) continue;
    const pre = mean(lo, hi);
    const post = mean(i + s(1.5), i + s(3) + 1);
    const cos = (pre[0]! * post[0]! + pre[1]! * post[1]! + pre[2]! * post[2]!) / (Math.hypot(...pre) * Math.hypot(...post));
    if ((Math.acos(cos) * 180) / Math.PI > 60) {
      out.push(decide);
      ignoreTo = decide + s(3);
    }
  }
  return out;
}

/** Streams a recording through a device timeline in chunks of `chunkSec`; the sample indices of its decisions. */
function streamed(acc: number[][], chunkSec = 1, rate = RATE): number[] {
  const tl = new ImuTimeline(spec);
  const per = Math.max(1, Math.round(chunkSec * rate));
  const out: number[] = [];
  for (let i = 0; i < acc.length; i += per) for (const d of tl.push({ t0: T0 + i / rate, rateHz: rate, samples: acc.slice(i, i + per) }).impacts) out.push(Math.round((d.ts - T0) * RATE));
  return out;
}

/** Standing (y down), an impact of `peak` g at `at` s, then `after` (lying: x down) from 0.5 s later. */
function fallAt(at: number, total: number, o: { peak?: number; after?: number[] } = {}): number[][] {
  const after = o.after ?? [-1, 0, 0];
  return Array.from({ length: Math.round(total * RATE) }, (_, i) => {
    if (i === Math.round(at * RATE)) return [0, -(o.peak ?? 3), 0];
    return i < Math.round((at + 0.5) * RATE) ? [0, -1, 0] : after;
  });
}

test('a hard impact followed by lying down is a fall, decided when the sample 3.0 s after the impact arrives', () => {
  const acc = fallAt(5, 12);
  expect(streamed(acc)).toEqual([5 * RATE + 150]);
  const d = new ThresholdDetector({ ...THRESHOLD_DEFINITION, rateHz: RATE });
  const hits = acc.map((v, i) => d.push(T0 + i / RATE, v[0]!, v[1]!, v[2]!)).filter(Boolean);
  expect(hits).toEqual([{ ts: T0 + 8, impactTs: T0 + 5, angleDeg: expect.closeTo(90, 5), peakG: expect.closeTo(3, 5) }]);
});

test('no fall: an impact without a posture change, a posture change without an impact, an impact below 2.5 g', () => {
  expect(streamed(fallAt(5, 12, { after: [0, -1, 0] }))).toEqual([]);
  expect(streamed(fallAt(5, 12, { peak: 1 }))).toEqual([]);
  expect(streamed(fallAt(5, 12, { peak: 2.45 }))).toEqual([]);
  // 55 degrees is not enough; 65 is.
  const tilt = (deg: number) => [-Math.sin((deg * Math.PI) / 180), -Math.cos((deg * Math.PI) / 180), 0];
  expect(streamed(fallAt(5, 12, { after: tilt(55) }))).toEqual([]);
  expect(streamed(fallAt(5, 12, { after: tilt(65) }))).toHaveLength(1);
});

test('an impact with less than 0.5 s of posture before it (since the start, or since a gap) decides nothing', () => {
  // pre is [i - 3 s, i - 1 s): at 1.4 s only 0.4 s of it exists, at 1.6 s 0.6 s.
  expect(streamed(fallAt(1.4, 8))).toEqual([]);
  expect(streamed(fallAt(1.6, 8))).toEqual([Math.round(1.6 * RATE) + 150]);
  // A gap of 2 s: what came before is not the posture before the impact.
  const tl = new ImuTimeline(spec);
  tl.push({ t0: T0, rateHz: RATE, samples: Array(5 * RATE).fill([0, -1, 0]) });
  const after = fallAt(1.2, 8);
  const hits = [0, 1, 2, 3, 4, 5, 6, 7].flatMap((k) => tl.push({ t0: T0 + 7 + k, rateHz: RATE, samples: after.slice(k * RATE, (k + 1) * RATE) }).impacts);
  expect(hits).toEqual([]);
});

test('one fall with several hits is one decision; candidates within 3 s after a decision are ignored, later ones count', () => {
  const acc = fallAt(5, 20);
  acc[5 * RATE + 10] = [0, 3.2, 0];
  acc[5 * RATE + 40] = [2.8, 0, 0];
  expect(streamed(acc)).toEqual([5 * RATE + 150]);
  // Another impact 5.5 s after the first (2.5 s after the decision): ignored. Standing up and falling again 9 s later: a second fall.
  const again = fallAt(5, 30);
  again[Math.round(10.5 * RATE)] = [3, 0, 0];
  for (let i = 11 * RATE; i < 14 * RATE; i++) again[i] = [0, -1, 0];
  again[14 * RATE] = [0, -3, 0];
  for (let i = 14 * RATE + 25; i < again.length; i++) again[i] = [0, 0, -1];
  expect(streamed(again)).toEqual([5 * RATE + 150, 14 * RATE + 150]);
  expect(contract(again)).toEqual(streamed(again));
});

const REAL = {
  falls: ['sisfall50/F01_SA10_R01', 'sisfall50/F05_SA15_R01', 'fallalld50/waist/F101_FA01_T01', 'fallalld50/neck/F101_FA01_T01', 'umafall50/pocket/F01_UM02_T01', 'smartfallmm50/wrist/F11_SF30_T02'],
  adls: ['sisfall50/D01_SA01_R01', 'sisfall50/D05_SA10_R01', 'fallalld50/waist/D13_FA01_T01', 'fallalld50/neck/D13_FA01_T01', 'umafall50/pocket/D01_UM01_T01', 'smartfallmm50/wrist/D01_SF01_T01'],
  /** Daily activities the detector is known to alarm on (rolling over in bed, waving a watch). */
  noisy: ['sisfall50/D14_SA08_R02', 'smartfallmm50/wrist/D07_SF01_T03'],
};

test('streamed in any chunking, at 50 Hz or resampled from 100 Hz, it decides what the definition decides over the whole recording', () => {
  for (const key of [...REAL.falls, ...REAL.adls, ...REAL.noisy]) {
    const t = datasetTrial(key);
    const want = contract(t.acc);
    expect({ key, got: streamed(t.acc) }).toEqual({ key, got: want });
    expect({ key, got: streamed(t.acc, 0.37) }).toEqual({ key, got: want });
    expect({ key, got: streamed(t.acc, 10) }).toEqual({ key, got: want });
  }
  // 100 Hz input (linear interpolation between the 50 Hz samples) lands on the same grid samples.
  const t = datasetTrial('sisfall50/F01_SA10_R01');
  const up = t.acc.flatMap((v, i) => {
    const n = t.acc[Math.min(i + 1, t.acc.length - 1)]!;
    return [v, v.map((x, c) => (x + n[c]!) / 2)];
  });
  expect(streamed(up, 1, 100)).toEqual(contract(t.acc));
});

describe('on real recordings, through the runtime path (1 s chunks) with the threshold detector deciding', () => {
  const meta = readModelMeta(metaPathFor(DEFAULT_MODEL_PATH));
  let model: OnnxWindowModel;
  beforeAll(async () => {
    model = await OnnxWindowModel.load(DEFAULT_MODEL_PATH, meta);
  });
  afterAll(() => model.close());

  async function decisions(key: string) {
    const t = datasetTrial(key);
    const rules = placementRules({ ...meta, placements: { unknown: { detector: 'threshold' } } }, DEFAULT_MODEL_PATH);
    const decider = new FallDecider({ threshold: 0.5, smoothK: 1, sustainK: 1, cooldownSec: 60, mode: 'model_only', andWindowSec: 10 });
    const inf = new FallInference(meta, model, decider, { rules });
    const out = [];
    for (let i = 0; i < t.acc.length; i += 50) out.push(...(await inf.ingest('dev', { t0: T0 + i / 50, rateHz: 50, acc: t.acc.slice(i, i + 50), placement: t.placement }, T0)).decisions);
    expect(inf.stats[t.placement].windows).toBe(0); // the model scored nothing: the threshold detector alone decides
    return { t, out };
  }

  test.each(REAL.falls)('%s: one fall, about 3 s after the impact, by the threshold detector', async (key) => {
    const { t, out } = await decisions(key);
    expect(out).toEqual([{ ts: expect.any(Number), prob: 1, source: 'model', detector: 'threshold' }]);
    const delay = out[0]!.ts - (T0 + impactIndex(t.acc) / 50);
    // Counted from the largest peak; the deciding hit can be an earlier one of the same fall, never the activity before it.
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(3.0 + 1e-6);
  });

  test.each(REAL.adls)('%s: a daily activity raises nothing', async (key) => {
    expect((await decisions(key)).out).toEqual([]);
  });
});
