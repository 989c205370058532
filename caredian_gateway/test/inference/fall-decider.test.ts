import { FallDecider, type DeciderSettings } from '../../src/inference/fall-decider.js';

const base: DeciderSettings = { threshold: 0.6, smoothK: 3, sustainK: 2, cooldownSec: 300, mode: 'sensor_or_model', andWindowSec: 5 };
/** Feeds window probabilities every 0.5 s from t=1000; returns the decisions. */
const run = (d: FallDecider, probs: number[], t0 = 1000) => probs.map((p, i) => d.onModelWindow('dev', t0 + i * 0.5, p)).filter(Boolean);

test('smoothing over K windows and sustain over K windows', () => {
  // One spike is smoothed away: mean of [0, 0, 1] < 0.6.
  expect(run(new FallDecider(base), [0, 0, 1, 0, 0])).toEqual([]);
  // Smoothed >= 0.6 at windows 3 and 4 (0-based 2: mean .6; 3: mean .8): the second makes the sustain.
  expect(run(new FallDecider(base), [0.2, 0.7, 0.9, 0.8, 0.1, 0.1, 0.1])).toEqual([{ ts: 1001.5, prob: expect.closeTo(0.8, 5), source: 'model', detector: 'model' }]);
});

test('one decision per run above threshold, and a cooldown per device on the event timeline', () => {
  const d = new FallDecider(base);
  const high = Array(20).fill(0.9);
  expect(run(d, high)).toHaveLength(1);
  // A new run 100 s later is inside the cooldown; 400 s later it is not.
  expect(run(d, [0, 0, 0, ...high], 1100)).toEqual([]);
  expect(run(d, [0, 0, 0, ...high], 1400)).toHaveLength(1);
  // Another device is independent.
  expect(d.onSensorFall('other', 1101, 0.9)).toMatchObject({ source: 'sensor' });
});

test('decision modes', () => {
  const only = (mode: DeciderSettings['mode']) => new FallDecider({ ...base, mode });
  expect(only('model_only').onSensorFall('dev', 1000, 0.9)).toBeUndefined();
  expect(run(only('model_only'), [0.9, 0.9, 0.9])).toHaveLength(1);
  expect(only('sensor_only').onSensorFall('dev', 1000, 0.9)).toEqual({ ts: 1000, prob: 0.9, source: 'sensor' });
  expect(run(only('sensor_only'), [0.9, 0.9, 0.9])).toEqual([]);
  const or = only('sensor_or_model');
  expect(or.onSensorFall('dev', 1000, 0.7)).toEqual({ ts: 1000, prob: 0.7, source: 'sensor' });
  expect(run(or, [0.9, 0.9, 0.9], 1001)).toEqual([]); // the same fall, inside the cooldown
});

test('sensor_and_model: both within the window make one decision with source "both"; either alone makes none', () => {
  const and = new FallDecider({ ...base, mode: 'sensor_and_model' });
  expect(and.onSensorFall('dev', 1000, 0.7)).toBeUndefined();
  expect(run(and, [0.9, 0.9, 0.9], 1002)).toEqual([{ ts: 1000, prob: 0.9, source: 'both', detector: 'model' }]);
  const alone = new FallDecider({ ...base, mode: 'sensor_and_model' });
  expect(run(alone, [0.9, 0.9, 0.9], 2000)).toEqual([]);
  expect(alone.onSensorFall('dev', 2100, 0.9)).toBeUndefined(); // 100 s later: not the same fall
});

test('after a gap in the data, smoothing and sustain start again (the cooldown stays)', () => {
  const d = new FallDecider({ ...base, smoothK: 1, sustainK: 2 });
  expect(d.onModelWindow('dev', 1000, 0.9)).toBeUndefined();
  d.restartRun('dev');
  expect(d.onModelWindow('dev', 1010, 0.9)).toBeUndefined(); // not the second of a run: the first after the gap
  expect(d.onModelWindow('dev', 1010.5, 0.9)).toMatchObject({ source: 'model' });
  d.restartRun('dev');
  expect(run(d, [0.9, 0.9, 0.9], 1100)).toEqual([]); // still inside the cooldown
});

test("a cooldown starts no later than the gateway's clock: a device clock running ahead cannot extend it", () => {
  let clock = 1000;
  const d = new FallDecider({ ...base, cooldownSec: 300 }, () => clock);
  // Stamped 250 s ahead of the gateway: by the device's clock the cooldown would run to 1550.
  expect(d.onSensorFall('dev', 1250, 0.9)).toMatchObject({ source: 'sensor' });
  clock = 1310;
  expect(d.onSensorFall('dev', 1310, 0.9)).toMatchObject({ source: 'sensor' });
  // Inside the cooldown by the gateway's clock: still quiet.
  clock = 1400;
  expect(d.onSensorFall('dev', 1400, 0.9)).toBeUndefined();
});

test('an acknowledged alert ends the cooldown: the next fall decides again', () => {
  const d = new FallDecider({ ...base, cooldownSec: 300 }, () => 2000);
  expect(d.onSensorFall('dev', 1000, 0.9)).toMatchObject({ source: 'sensor' });
  expect(d.onSensorFall('dev', 1050, 0.9)).toBeUndefined();
  d.acknowledged('dev');
  expect(d.onSensorFall('dev', 1060, 0.9)).toMatchObject({ ts: 1060, source: 'sensor' });
  // A new cooldown from that fall.
  expect(d.onSensorFall('dev', 1070, 0.9)).toBeUndefined();
  d.acknowledged('never-seen'); // no state: nothing to do
  // sensor_and_model: a vote pending from before the acknowledgement does not pair with a new one.
  const and = new FallDecider({ ...base, mode: 'sensor_and_model' }, () => 5000);
  expect(and.onSensorFall('dev', 3000, 0.9)).toBeUndefined();
  and.acknowledged('dev');
  expect(run(and, [0.9, 0.9, 0.9], 3001)).toEqual([]);
});

test("a placement's own knobs judge its windows; without them the settings' do", () => {
  const strict = { threshold: 0.95, smoothK: 2, sustainK: 2 };
  const probs = [0.9, 0.9, 0.9, 0.9];
  expect(run(new FallDecider(base), probs)).toHaveLength(1);
  const d = new FallDecider(base);
  expect(probs.map((p, i) => d.onModelWindow('dev', 1000 + i * 0.5, p, strict)).filter(Boolean)).toEqual([]);
  const loose = { threshold: 0.5, smoothK: 1, sustainK: 1 };
  expect(new FallDecider(base).onModelWindow('dev', 1000, 0.55, loose)).toMatchObject({ source: 'model', detector: 'model' });
});

test('the threshold detector decides like the model does: the cooldown, the modes, and marked as its own', () => {
  const d = new FallDecider(base);
  expect(d.onThreshold('dev', 1000)).toEqual({ ts: 1000, prob: 1, source: 'model', detector: 'threshold' });
  // The model deciding the same fall a moment later is inside the cooldown, and the other way round.
  expect(run(d, [0.9, 0.9, 0.9], 1001)).toEqual([]);
  const m = new FallDecider(base);
  expect(run(m, [0.9, 0.9, 0.9])).toHaveLength(1);
  expect(m.onThreshold('dev', 1003)).toBeUndefined();
  expect(new FallDecider({ ...base, mode: 'sensor_only' }).onThreshold('dev', 1000)).toBeUndefined();
  const and = new FallDecider({ ...base, mode: 'sensor_and_model' });
  expect(and.onThreshold('dev', 1000)).toBeUndefined();
  expect(and.onSensorFall('dev', 1002, 0.8)).toEqual({ ts: 1000, prob: 1, source: 'both', detector: 'threshold' });
});
