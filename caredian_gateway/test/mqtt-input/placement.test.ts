// The placement of IMU chunks over MQTT (mqtt_ingest) against a real Mosquitto broker: the chunk's
// own field, the devices option's default, the registry remembering what a device declared, and a
// bad value answered on the device's error topic with nothing stored. A metadata fixture over the
// shipped model makes the placement visible: at the ankle the threshold detector decides alone.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import { DEFAULT_MODEL_PATH, FallInferenceModule } from '../../src/inference/inference-module.js';
import { DeviceRegistry } from '../../src/devices/registry.js';
import { metaPathFor } from '../../src/inference/model-meta.js';
import { startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';
import { sisfallTrial } from '../support/sisfall.js';
import { MqttPeer } from './support.js';

const PASSWORD = 'device-password-0123';
const GW = { username: 'addons', password: 'gateway-password-0123' };
const DEVICES = [
  { device_id: 'anklet-1', placement: 'ankle' },
  { device_id: 'band-1' },
  { device_id: 'band-2' },
];

let broker: Mosquitto;
let h: Harness;
let dev: MqttPeer;

beforeAll(async () => {
  broker = await Mosquitto.create([GW, { username: 'dev', password: PASSWORD }]);
  const dir = tempDir('mqtt-placement-');
  copyFileSync(DEFAULT_MODEL_PATH, join(dir, 'm.onnx'));
  writeFileSync(join(dir, 'm.meta.json'), JSON.stringify({ ...JSON.parse(readFileSync(metaPathFor(DEFAULT_MODEL_PATH), 'utf8')), placements: { ankle: { detector: 'threshold' } } }));
  h = await startGateway({ FALL_MODEL_PATH: join(dir, 'm.onnx'), MQTT_URL: broker.url, MQTT_USERNAME: GW.username, MQTT_PASSWORD: GW.password, MQTT_INGEST: 'true', DEVICES_JSON: JSON.stringify(DEVICES) });
  dev = await MqttPeer.connect(broker.url, { username: 'dev', password: PASSWORD }, ['caredian/+/error']);
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected', 10_000, 'MQTT connected');
  await waitFor(async () => {
    await dev.publish('caredian/band-1/heartbeat', { fw: 'probe' });
    return [...h.gw.store.scan()].some((e) => e.kind === 'heartbeat');
  }, 10_000, 'the input subscribed');
});
afterAll(async () => {
  await dev?.close();
  await h?.close();
  await broker?.destroy();
});

const falls = (device: string) => [...h.gw.store.scan()].flatMap((e) => (e.kind === 'fall' && e.device_id === device ? [{ detector: e.detector, placement: e.placement }] : []));

/** Publishes a real fall in 1 s chunks; `extra(i)` adds fields to the chunk at sample i. */
async function publishFall(device: string, t0: number, extra: (i: number) => Record<string, unknown> = () => ({})) {
  const t = sisfallTrial('F01_SA10_R01');
  for (let i = 0; i < t.acc.length; i += 50) await dev.publish(`caredian/${device}/imu`, { rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50), ...extra(i) });
}

test("the devices option's placement applies to a chunk without one; a chunk's own field is remembered for the chunks after", async () => {
  const t0 = Math.floor(Date.now() / 1000) - 120;
  await publishFall('anklet-1', t0);
  await waitFor(() => falls('anklet-1').length === 1, 20_000, 'the anklet fall');
  expect(falls('anklet-1')).toEqual([{ detector: 'threshold', placement: 'ankle' }]);
  // band-1 says ankle in its first chunk only.
  await publishFall('band-1', t0, (i) => (i === 0 ? { placement: 'ankle' } : {}));
  await waitFor(() => falls('band-1').length === 1, 20_000, 'the band fall');
  expect(falls('band-1')).toEqual([{ detector: 'threshold', placement: 'ankle' }]);
  // Nothing said anywhere: unknown, the model decides.
  await publishFall('band-2', t0);
  await waitFor(() => falls('band-2').length === 1, 20_000, 'the second band fall');
  expect(falls('band-2')).toEqual([{ detector: 'model', placement: 'unknown' }]);
}, 60_000);

test('a bad placement is answered on the error topic with the reason; nothing stored, fed or remembered', async () => {
  const seq = h.gw.store.lastCommittedSeq;
  const t0 = Math.floor(Date.now() / 1000) - 30;
  await dev.publish('caredian/band-2/imu', { rate_hz: 50, t0, acc: [[0, -1, 0]], placement: 'forearm' });
  await dev.publish('caredian/band-2/imu', { rate_hz: 50, t0, acc: [[0, -1, 0]], placement: 7 });
  await waitFor(() => dev.on('caredian/band-2/error').length === 2, 10_000, 'the error answers');
  for (const e of dev.on('caredian/band-2/error')) expect(e).toMatchObject({ ok: false, error: 'invalid_request', topic: 'caredian/band-2/imu', problems: [expect.stringMatching(/^placement: must be one of waist, hip, wrist, pocket, neck, chest, ankle, unknown/)] });
  expect(h.gw.store.readAfter(seq, 100)).toEqual([]);
  const stream = () => h.gw.module(FallInferenceModule)!.inference!.streams.peek('band-2');
  expect(stream()?.placement).toBe('unknown');
  expect(h.gw.module(DeviceRegistry)!.placementOf('band-2')).toBeUndefined();
  const before = h.gw.readiness.evaluate().checks.mqtt_input as unknown as { stored: number };
  await dev.publish('caredian/band-2/imu', { rate_hz: 50, t0, acc: [[0, -1, 0]], placement: 'wrist' });
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt_input as unknown as { stored: number }).stored === before.stored + 1, 10_000, 'the good chunk');
  expect(stream()?.placement).toBe('wrist');
  expect(h.gw.module(DeviceRegistry)!.placementOf('band-2')).toBe('wrist');
});
