import { ImuStreams, ImuTimeline, type Window } from '../../src/inference/imu-timeline.js';

const spec = { rateHz: 50, windowSamples: 100, hopSamples: 25, channels: 2 };
/** A recording: channel 0 is time itself (a ramp), channel 1 a sine. */
const signal = (t: number) => [t - 1_700_000_000, Math.sin(t * 3)];
const record = (t0: number, rate: number, n: number) => Array.from({ length: n }, (_, i) => signal(t0 + i / rate));
const T0 = 1_700_000_000;

function feed(tl: ImuTimeline, rate: number, seconds: number, chunkSec: number, withT0 = true): Window[] {
  const out: Window[] = [];
  const per = Math.round(chunkSec * rate);
  const all = record(T0, rate, Math.round(seconds * rate));
  for (let i = 0; i < all.length; i += per) out.push(...tl.push({ t0: withT0 || i === 0 ? T0 + i / rate : undefined, rateHz: rate, samples: all.slice(i, i + per) }).windows);
  return out;
}

test('at the model rate: a window every hop once the first is full, values as sent', () => {
  const w = feed(new ImuTimeline(spec), 50, 4, 1);
  // 200 samples: windows end at samples 100, 125, ..., 200.
  expect(w.map((x) => Math.round((x.endTs - T0) * 50))).toEqual([99, 124, 149, 174, 199]);
  expect(w[0]!.data.length).toBe(200);
  expect(w[0]!.data[0]).toBeCloseTo(0, 5);
  expect(w[0]!.data[198]).toBeCloseTo(99 / 50, 4);
});

test('resampling: 100 Hz, 200 Hz and 25 Hz input land on the same 50 Hz grid (linear signals exactly)', () => {
  const ref = feed(new ImuTimeline(spec), 50, 4, 1);
  for (const rate of [100, 200, 25]) {
    const w = feed(new ImuTimeline(spec), rate, 4, 1);
    expect(w.map((x) => x.endTs.toFixed(6))).toEqual(ref.slice(0, w.length).map((x) => x.endTs.toFixed(6)));
    // The ramp (channel 0) is exact under linear interpolation.
    for (let i = 0; i < 100; i++) expect(w[0]!.data[i * 2]).toBeCloseTo(ref[0]!.data[i * 2]!, 3);
  }
});

test('the samples own timeline decides, not how the recording is chunked or replayed', () => {
  const a = feed(new ImuTimeline(spec), 100, 6, 1);
  const b = feed(new ImuTimeline(spec), 100, 6, 0.37);
  const c = feed(new ImuTimeline(spec), 100, 6, 6);
  const d = feed(new ImuTimeline(spec), 100, 6, 0.5, false); // t0 only on the first chunk
  for (const other of [b, c, d]) {
    expect(other.map((x) => x.endTs.toFixed(6))).toEqual(a.map((x) => x.endTs.toFixed(6)));
    // Identical up to float32 rounding.
    other.forEach((x, i) => x.data.forEach((v, j) => expect(Math.abs(v - a[i]!.data[j]!)).toBeLessThan(1e-5)));
  }
});

test('a retried chunk is not fed twice; a half-overlapping one contributes only its new half', () => {
  const tl = new ImuTimeline(spec);
  const first = record(T0, 50, 120);
  expect(tl.push({ t0: T0, rateHz: 50, samples: first }).accepted).toBe(120);
  const again = tl.push({ t0: T0, rateHz: 50, samples: first });
  expect(again).toEqual({ accepted: 0, windows: [], impacts: [] });
  const overlap = tl.push({ t0: T0 + 100 / 50, rateHz: 50, samples: record(T0 + 2, 50, 40) });
  expect(overlap.accepted).toBe(20);
  const ref = feed(new ImuTimeline(spec), 50, 140 / 50, 140 / 50);
  expect(overlap.windows.map((w) => w.endTs)).toEqual(ref.filter((w) => w.endTs > T0 + 119 / 50).map((w) => w.endTs));
});

test('a gap of more than a second starts a new window from scratch', () => {
  const tl = new ImuTimeline(spec);
  tl.push({ t0: T0, rateHz: 50, samples: record(T0, 50, 150) });
  const later = T0 + 150 / 50 + 1.5;
  const r1 = tl.push({ t0: later, rateHz: 50, samples: record(later, 50, 99) });
  expect(r1.windows).toEqual([]);
  expect(tl.restarts).toBe(1);
  const r2 = tl.push({ rateHz: 50, samples: record(later + 99 / 50, 50, 1) });
  expect(r2.windows).toHaveLength(1);
  expect(r2.windows[0]!.data[0]).toBeCloseTo(later - T0, 4);
});

test('samples with the wrong number of values are refused', () => {
  expect(() => new ImuTimeline(spec).push({ t0: T0, rateHz: 50, samples: [[1, 2, 3]] })).toThrow(/expected 2/);
});

test('idle devices are dropped', () => {
  const s = new ImuStreams(spec, 60_000);
  // push() takes the current time in seconds; sweep() in milliseconds.
  s.get('a').push({ t0: T0, rateHz: 50, samples: record(T0, 50, 10) }, 1000);
  s.get('b').push({ t0: T0, rateHz: 50, samples: record(T0, 50, 10) }, 100);
  expect(s.sweep(170_000)).toEqual(['b']);
  expect(s.size).toBe(1);
});
