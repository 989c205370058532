// GET /api/falls/<id> on the admin listener: a fall the model decided comes with the motion from
// 10 s before to 10 s after it (acceleration magnitude and the model's probabilities), growing
// until the 10 s after have arrived, kept on disk with the fall, and bounded in memory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MotionTrail, TRAIL_SEC } from '../../src/inference/motion-trail.js';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { placementRules } from '../../src/inference/placement-rules.js';
import { syntheticFall } from '../../src/cli/synthetic-motion.js';
import { ADMIN_TOKEN, startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';

interface Motion {
  complete: boolean;
  fall_ts: number;
  rate_hz: number;
  start_offset_sec: number;
  magnitude_g: (number | null)[];
  prob: [number, number][];
  threshold: number;
  peak: { t: number; g: number };
}

const admin = (h: Harness, path: string) => fetch(`${h.adminUrl}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
const detail = async (h: Harness, id: string) => (await (await admin(h, `/api/falls/${encodeURIComponent(id)}`)).json()) as { alert: { id: string; device_id: string }; device: { name: string; person?: string }; motion: Motion | null };

async function sendChunks(h: Harness, token: string, device: string, acc: number[][], t0: number, from: number, to: number) {
  const falls: { id: string }[] = [];
  for (let i = from; i < to; i += 50) {
    const r = await fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: device, rate_hz: 50, t0: t0 + i / 50, acc: acc.slice(i, Math.min(i + 50, to)) }) });
    expect(r.status).toBe(200);
    falls.push(...((await r.json()) as { falls: { id: string }[] }).falls);
  }
  return falls;
}

test('a model-decided fall: the motion around it, growing until complete, on disk, and still there after a restart', async () => {
  const dataDir = tempDir();
  const rec = syntheticFall();
  const t0 = Math.round(Date.now() / 1000) - 30;
  let h = await startGateway({ DEVICES_JSON: JSON.stringify([{ device_id: 'band-9', person: 'Ana' }]) }, { dataDir, keepData: true });
  let id: string;
  try {
    const token = await h.token();
    // Up to 2 s after the impact: decided, the 10 s after still to come.
    const falls = await sendChunks(h, token, 'band-9', rec.acc, t0, 0, 450);
    expect(falls).toHaveLength(1);
    id = falls[0]!.id;
    const early = await detail(h, id);
    expect(early.device).toMatchObject({ person: 'Ana' });
    // the threshold of the placement the fall was decided for (this device declares none: unknown)
    expect(early.motion).toMatchObject({ complete: false, rate_hz: 50, threshold: placementRules(readModelMeta(metaPathFor(DEFAULT_MODEL_PATH)), DEFAULT_MODEL_PATH).unknown.threshold });
    const impactRel = t0 + rec.impactSec! - early.motion!.fall_ts;
    expect(early.motion!.peak.t).toBeCloseTo(impactRel, 1);
    expect(early.motion!.peak.g).toBeGreaterThan(7);
    await waitFor(() => existsSync(join(dataDir, 'fall-motion', `${id}.json`)), 5000, 'the motion file');

    await sendChunks(h, token, 'band-9', rec.acc, t0, 450, rec.acc.length);
    const done = (await detail(h, id)).motion!;
    expect(done.complete).toBe(true);
    // From the first sample (6.9 s before the decision; the stream began then) to 10 s after, at 50 Hz, no gaps.
    expect(done.start_offset_sec).toBeCloseTo(t0 - done.fall_ts, 1);
    const end = done.start_offset_sec + (done.magnitude_g.length - 1) / 50;
    expect(end).toBeGreaterThan(9.9);
    expect(end).toBeLessThanOrEqual(10.001);
    expect(done.magnitude_g.every((g) => g !== null)).toBe(true);
    // Lying still afterwards: 1 g. The model's probability: high at the decision, low before the fall.
    expect(done.magnitude_g.at(-1)!).toBeCloseTo(1, 1);
    expect(done.prob.find(([t]) => Math.abs(t) < 1e-6)![1]).toBeGreaterThanOrEqual(0.86);
    expect(Math.max(...done.prob.filter(([t]) => t < -1.5).map(([, p]) => p))).toBeLessThan(0.5);
    expect(done.prob.every(([t]) => t >= -10 && t <= 10)).toBe(true);
  } finally {
    await h.close();
  }
  h = await startGateway({}, { dataDir });
  try {
    const again = await detail(h, id);
    expect(again.motion).toMatchObject({ complete: true, peak: { g: expect.any(Number) } });
    expect(again.alert.id).toBe(id);
  } finally {
    await h.close();
  }
}, 60_000);

test('a fall the device reported has no motion; an unknown id is 404; the detail needs the admin token', async () => {
  const h = await startGateway();
  try {
    const token = await h.token();
    const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: 'band-2', event: 'fall', prob: 0.9 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    const d = await detail(h, event_id);
    expect(d.alert.device_id).toBe('band-2');
    expect(d.device.name).toBe('band-2');
    expect(d.motion).toBeNull();
    expect((await admin(h, '/api/falls/no-such-fall')).status).toBe(404);
    expect((await admin(h, '/api/falls/..%2F..%2Fadmin-token')).status).toBe(404);
    expect((await fetch(`${h.adminUrl}/api/falls/${event_id}`)).status).toBe(401);
  } finally {
    await h.close();
  }
});

describe('the trail each streaming device keeps', () => {
  const trail = () => new MotionTrail(50, 0.5);
  const T = 1_800_000_000;

  test('a retried chunk lands on the same steps; a faster input keeps each step’s peak', () => {
    const t = trail();
    const chunk = Array.from({ length: 50 }, (_, i) => [0, i === 20 ? 5 : 1, 0]);
    t.samples(T, 50, chunk);
    t.samples(T, 50, chunk);
    const x = t.extract(T, T + 1);
    expect(x.magnitude).toHaveLength(50);
    expect(x.magnitude[20]).toBe(5);
    // 400 Hz: eight samples a step, the largest survives.
    const fast = trail();
    fast.samples(T, 400, Array.from({ length: 400 }, (_, i) => [0, i === 203 ? 9 : 1, 0]));
    const y = fast.extract(T, T + 1);
    expect(y.magnitude.filter((g) => g === 9)).toHaveLength(1);
    expect(Math.max(...(y.magnitude as number[]))).toBe(9);
  });

  test('a gap holds no data, and however long a device streams only the last half minute is kept', () => {
    const t = trail();
    const one = Array.from({ length: 50 }, () => [0, 1, 0]);
    t.samples(T, 50, one);
    t.samples(T + 3, 50, one);
    const x = t.extract(T, T + 4);
    expect(x.magnitude.slice(50, 150).every((g) => g === null)).toBe(true);
    for (let s = 0; s < 600; s++) t.samples(T + 10 + s, 50, one);
    const all = t.extract(T, T + 1000);
    expect(all.magnitude.length).toBe(TRAIL_SEC * 50);
    expect(all.start).toBeCloseTo(T + 10 + 600 - TRAIL_SEC, 5);
    expect(MotionTrail.bytesFor(50, 0.5)).toBeLessThan(5 * 1024);
  });
});
