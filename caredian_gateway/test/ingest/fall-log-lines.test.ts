// The add-on log gets one warning per alert, not one per report: a device repeating its fall (or
// several sensors reporting one) would otherwise flood it, and every line costs the hot path.
import { startGateway, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startGateway({ LOG_LEVEL: 'debug', FALL_COOLDOWN_SEC: '300' });
});
afterAll(() => h.close());

const post = async (token: string, body: unknown) => {
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as { event_id: string; alert?: { id: string } };
};
const lines = (device: string) => h.logs.lines.map((l) => JSON.parse(l) as { level: string; msg: string; device_id?: string; event_id?: string; alert?: string }).filter((l) => l.device_id === device && l.msg.startsWith('fall reported by a device'));

test('the first report of a fall is a warning; repeats that join its alert are debug lines with the alert id', async () => {
  const token = await h.token();
  const first = await post(token, { device_id: 'loud-1', event: 'fall', prob: 0.9 });
  const second = await post(token, { device_id: 'loud-1', event: 'fall', prob: 0.8 });
  const third = await post(token, { device_id: 'loud-1', event: 'fall', prob: 0.95 });
  expect(second.alert?.id).toBe(first.event_id);
  expect(lines('loud-1').map((l) => [l.level, l.event_id, l.alert])).toEqual([
    ['warn', first.event_id, first.event_id],
    ['debug', second.event_id, first.event_id],
    ['debug', third.event_id, first.event_id],
  ]);
  // Another device's fall is its own alert: a warning again.
  const other = await post(token, { device_id: 'loud-2', event: 'fall', prob: 0.9 });
  expect(lines('loud-2').map((l) => l.level)).toEqual(['warn']);
  expect(other.alert?.id).toBe(other.event_id);
});
