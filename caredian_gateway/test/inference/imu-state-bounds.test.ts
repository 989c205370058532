// The model's per-device motion state is bounded by count (max_devices) and memory
// (imu_state_max_mb): past the bound the device that sent least recently is evicted first.
import { ImuStreams, ImuTimeline, type TimelineSpec } from '../../src/inference/imu-timeline.js';
import { THRESHOLD_DEFINITION } from '../../src/inference/threshold-detector.js';
import { ADMIN_TOKEN, startGateway } from '../support/harness.js';

// The shipped model's grid, with the threshold detector every device's timeline runs.
const spec: TimelineSpec = { rateHz: 50, windowSamples: 200, hopSamples: 25, channels: 3, impact: { spec: { ...THRESHOLD_DEFINITION, rateHz: 50 }, axes: [0, 1, 2] } };

test('at the cap a new device evicts the least recently used one, and says whether it was still sending', () => {
  const evicted: string[] = [];
  const s = new ImuStreams(spec, 600_000, 3, (id) => evicted.push(id));
  const t = 1_000_000;
  for (const id of ['a', 'b', 'c']) s.get(id, t).push({ t0: t / 1000, rateHz: 50, samples: [[0, -1, 0]] }, t / 1000);
  s.get('a', t + 1); // a is used again: b is now the least recent
  s.get('d', t + 2);
  expect(evicted).toEqual(['b']);
  expect(s.size).toBe(3);
  expect([s.peek('a'), s.peek('b'), s.peek('c'), s.peek('d')].map(Boolean)).toEqual([true, false, true, true]);
  expect(s.evicted).toBe(1);
  expect(s.lastActiveEvictionMs).toBe(t + 2);
  expect(s.bytes).toBe(3 * ImuTimeline.bytesFor(spec));
  // Long idle streams evicted later do not count as active.
  s.get('e', t + 10 * 60_000);
  expect(evicted).toEqual(['b', 'c']);
  expect(s.lastActiveEvictionMs).toBe(t + 2);
});

test('through the gateway: with IMU_STATE_MAX_MB=1 the state holds what fits in 1 MB, and /api/status warns when streaming devices are evicted', async () => {
  const h = await startGateway({ IMU_STATE_MAX_MB: '1', MAX_DEVICES: '100000' });
  try {
    const cap = Math.floor((1024 * 1024) / ImuTimeline.bytesFor(spec));
    const token = await h.token('events:imu:ingest');
    const t0 = Date.now() / 1000 - 5;
    const chunk = (device: string, at = t0) => fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: device, rate_hz: 50, t0: at, acc: [[0, -1, 0]] }) });
    const n = cap + 20;
    for (let i = 0; i < n; i += 40) {
      const rs = await Promise.all(Array.from({ length: Math.min(40, n - i) }, (_, j) => chunk(`wrist-${i + j}`)));
      expect(rs.every((r) => r.status === 200)).toBe(true);
    }
    const status = async () => ((await (await fetch(`${h.adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { checks: { model: Record<string, unknown> } }).checks.model;
    const m = await status();
    expect(m).toMatchObject({ devices: cap, max_devices: cap, evicted: 20, state_bytes: cap * ImuTimeline.bytesFor(spec), warning: expect.stringMatching(/more devices stream motion data than the model's memory holds/) });
    // The most recent device kept its timeline: a retry of its chunk is recognised, not fed again.
    const again = (await (await chunk(`wrist-${n - 1}`)).json()) as { accepted: number };
    expect(again.accepted).toBe(0);
  } finally {
    await h.close();
  }
}, 60_000);
