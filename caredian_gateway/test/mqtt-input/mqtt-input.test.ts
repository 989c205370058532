// Devices over MQTT (mqtt_ingest) against a real Mosquitto broker with the ACL DOCS.md documents:
// fall reports, heartbeats and IMU chunks go through the ingest core, are stored once, alert every
// sink (a webhook and Home Assistant's MQTT event entity), and what cannot be accepted is answered
// on the device's error topic with the reason, storing nothing.
import mqtt from 'mqtt';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import { MqttModule } from '../../src/mqtt/mqtt-module.js';
import type { StoredEvent } from '../../src/domain/records.js';
import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';
import { sisfallTrial } from '../support/sisfall.js';
import { DOCUMENTED_ACL, MqttPeer } from './support.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const PASSWORD = 'device-password-0123';
const GW = { username: 'addons', password: 'gateway-password-0123' };
const users = [GW, { username: 'homeassistant', password: PASSWORD }, ...['radar-1', 'band-2', 'stranger'].map((username) => ({ username, password: PASSWORD }))];
const DEVICES = [
  { device_id: 'radar-1', name: 'Hallway radar', location: 'hallway' },
  { device_id: 'band-2', name: 'Wrist band', person: 'Grandma Kim' },
];

let broker: Mosquitto;
let h: Harness;
let hook: WebhookReceiver;
let ha: MqttPeer;
const devices: MqttPeer[] = [];

async function device(id: string): Promise<MqttPeer> {
  const d = await MqttPeer.connect(broker.url, { username: id, password: PASSWORD }, [`caredian/${id}/error`]);
  devices.push(d);
  return d;
}

const stored = (pred: (e: StoredEvent) => boolean) => h.gw.store.readAfter(0, 100_000).filter(pred);
const input = () => h.gw.readiness.evaluate().checks.mqtt_input as unknown as { stored: number; duplicates: number; rejected: number; received: number };

beforeAll(async () => {
  broker = await Mosquitto.create(users, { acl: DOCUMENTED_ACL });
  hook = new WebhookReceiver();
  await hook.start();
  h = await startGateway({ MQTT_URL: broker.url, MQTT_USERNAME: GW.username, MQTT_PASSWORD: GW.password, MQTT_INGEST: 'true', DEVICES_JSON: JSON.stringify(DEVICES), ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: hook.url }]) });
  ha = await MqttPeer.connect(broker.url, { username: 'homeassistant', password: PASSWORD }, ['caredian/#']);
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected', 10_000, 'MQTT connected');
  // The subscriptions are made right after connecting: a probe heartbeat says they are in place.
  const probe = await device('radar-1');
  await waitFor(async () => {
    await probe.publish('caredian/radar-1/heartbeat', { fw: 'probe' });
    return stored((e) => e.kind === 'heartbeat' && e.device_id === 'radar-1').length > 0;
  }, 10_000, 'the input subscribed');
});
afterAll(async () => {
  for (const d of devices) await d.close();
  await ha?.close();
  await h?.close();
  await hook?.stop();
  await broker?.destroy();
});

test("a listed device's fall is stored once, even when the device sends it again, and alerts every sink once", async () => {
  const radar = devices[0]!;
  const body = { event: 'fall', prob: 0.91, event_id: 'radar-1-0001' };
  await radar.publish('caredian/radar-1/fall', body);
  await radar.publish('caredian/radar-1/fall', { ...body, device_id: 'radar-1' });
  await waitFor(() => input().duplicates === 1, 10_000, 'the retry');
  const falls = stored((e) => e.kind === 'fall' && e.device_id === 'radar-1');
  expect(falls).toHaveLength(1);
  expect(falls[0]).toMatchObject({ event_id: 'radar-1-0001', event: 'fall', prob: 0.91, source: 'sensor', decided: true, client_id: 'mqtt' });
  // Every sink: the webhook, and Home Assistant's event entity over MQTT discovery.
  await waitFor(() => hook.ofType('fall_detected', 'radar-1-0001').length === 1, 10_000, 'the webhook');
  await waitFor(() => ha.on('caredian/radar-1/event').some((e) => e.event_type === 'fall_detected'), 10_000, 'the event entity');
  await new Promise((r) => setTimeout(r, 300));
  expect(hook.ofType('fall_detected', 'radar-1-0001')).toHaveLength(1);
  expect(ha.on('caredian/radar-1/event').filter((e) => e.event_type === 'fall_detected')).toEqual([expect.objectContaining({ alert_id: 'radar-1-0001' })]);
  expect(radar.on('caredian/radar-1/error')).toEqual([]);
});

test('a heartbeat over MQTT is stored and updates the device', async () => {
  const band = await device('band-2');
  await band.publish('caredian/band-2/heartbeat', { device_id: 'band-2', battery: 77, rssi: -61, fw: '2.1.0', uptime_s: 3600 });
  const d = await waitFor(async () => {
    const list = (await (await fetch(`${h.adminUrl}/api/devices`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { devices: { device_id: string; battery?: number; online: boolean; fw?: string }[] };
    return list.devices.find((x) => x.device_id === 'band-2' && x.battery === 77);
  }, 10_000, 'the device updated');
  expect(d).toMatchObject({ online: true, fw: '2.1.0' });
  expect(stored((e) => e.kind === 'heartbeat' && e.device_id === 'band-2')).toEqual([expect.objectContaining({ battery: 77, rssi: -61, uptime_s: 3600, client_id: 'mqtt' })]);
});

test('IMU chunks over MQTT: a real fall is decided by the model, stored and alerted; a call for help right after is not held back by the cooldown', async () => {
  const band = devices.find((d) => d.client.options.username === 'band-2')!;
  const t = sisfallTrial('F01_SA10_R01');
  const t0 = Math.floor(Date.now() / 1000) - 60;
  for (let i = 0; i < t.acc.length; i += 50) await band.publish('caredian/band-2/imu', { rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50) });
  const fall = await waitFor(() => stored((e) => e.kind === 'fall' && e.device_id === 'band-2' && e.source === 'model')[0], 20_000, 'the decided fall');
  expect(fall).toMatchObject({ event: 'fall', decided: true, client_id: 'mqtt' });
  const id = (fall as { event_id: string }).event_id;
  await waitFor(() => hook.ofType('fall_detected', id).length === 1, 10_000, 'the fall alert');

  // Inside the fall's cooldown, a help button press is still its own alert, worded as one.
  await band.publish('caredian/band-2/fall', { event: 'help', prob: 1, event_id: 'band-2-help-1' });
  await waitFor(() => hook.ofType('fall_detected', 'band-2-help-1').length === 1, 10_000, 'the help alert');
  expect(hook.ofType('fall_detected', 'band-2-help-1')[0]).toMatchObject({ kind: 'help', device_id: 'band-2' });
  const alerts = (await (await fetch(`${h.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: { id: string; kind?: string; state: string }[] };
  expect(alerts.falls.filter((a) => a.id === id || a.id === 'band-2-help-1').map((a) => [a.id, a.kind, a.state]).sort()).toEqual([[id, 'fall', 'open'], ['band-2-help-1', 'help', 'open']].sort());
}, 60_000);

test('rejected with the reason on the error topic, nothing stored: an unlisted device, a bad body, not JSON, another device id', async () => {
  const before = input().rejected;
  const radar = devices[0]!;
  const stranger = await device('stranger');
  const seqBefore = h.gw.store.lastCommittedSeq;
  await stranger.publish('caredian/stranger/fall', { event: 'fall', prob: 0.9, event_id: 's-1' });
  await radar.publish('caredian/radar-1/fall', { event: 'fell', prob: 2, event_id: 'bad-1' });
  await radar.publish('caredian/radar-1/fall', 'not json');
  await radar.publish('caredian/radar-1/heartbeat', { device_id: 'band-2', battery: 10 });
  await waitFor(() => radar.on('caredian/radar-1/error').length === 3 && stranger.on('caredian/stranger/error').length === 1, 10_000, 'the error answers');

  expect(stranger.on('caredian/stranger/error')).toEqual([{ ok: false, error: 'device_not_listed', error_description: expect.stringMatching(/not listed in the devices option/), topic: 'caredian/stranger/fall', event_id: 's-1' }]);
  const errors = radar.on('caredian/radar-1/error');
  expect(errors[0]).toMatchObject({ ok: false, error: 'invalid_request', topic: 'caredian/radar-1/fall', event_id: 'bad-1', problems: [expect.stringMatching(/^event: must be one of/), expect.stringMatching(/^prob: must be between 0 and 1/)] });
  expect(errors[1]).toMatchObject({ error: 'invalid_request', problems: ['the payload is not valid JSON'] });
  expect(errors[2]).toMatchObject({ error: 'invalid_request', topic: 'caredian/radar-1/heartbeat', problems: ['device_id: "band-2" is not the topic\'s device "radar-1"'] });
  expect(input().rejected - before).toBe(4);
  expect(h.gw.store.readAfter(seqBefore, 1000)).toEqual([]);
  // Logged, but not once per message.
  expect(h.logs.lines.filter((l) => l.includes('MQTT message rejected'))).toHaveLength(1);
  expect(h.gw.readiness.evaluate().checks.mqtt_input).toMatchObject({ last_rejection: { topic: 'caredian/radar-1/heartbeat', error: 'invalid_request' } });
});

test('the documented ACL: a device cannot publish under another device id', async () => {
  const radar = devices[0]!;
  const seqBefore = h.gw.store.lastCommittedSeq;
  await radar.publish('caredian/band-2/fall', { event: 'fall', prob: 0.99, event_id: 'forged-1' });
  await radar.publish('caredian/radar-1/heartbeat', { fw: 'after-forgery' });
  await waitFor(() => stored((e) => e.kind === 'heartbeat' && e.fw === 'after-forgery').length === 1, 10_000, 'the message after it');
  expect(h.gw.store.readAfter(seqBefore, 1000).filter((e) => e.kind === 'fall')).toEqual([]);
});

test('a retained report is stored once; its copy the broker sends when the gateway must subscribe again is refused and removed', async () => {
  const radar = devices[0]!;
  // The device listens with a persistent session, so it hears the answer whenever it reconnects.
  const ears = await MqttPeer.connect(broker.url, { username: 'radar-1', password: PASSWORD, clean: false, clientId: 'radar-1-ears' }, ['caredian/radar-1/error']);
  devices.push(ears);
  await radar.publish('caredian/radar-1/fall', { event: 'near_fall', prob: 0.4, event_id: 'kept-1' }, { retain: true });
  await waitFor(() => stored((e) => e.kind === 'fall' && e.event_id === 'kept-1').length === 1, 10_000, 'the report stored');
  // The gateway's session lost (here taken over by a clean session under its client id): it subscribes again, and
  // the broker sends the retained copy, flagged as retained.
  const thief = await mqtt.connectAsync(broker.url, { ...GW, clientId: h.gw.module(MqttModule)!.clientId, clean: true, reconnectPeriod: 0 });
  await thief.endAsync();
  await waitFor(() => ears.on('caredian/radar-1/error').some((e) => e.error === 'retained_not_accepted'), 20_000, 'the refusal');
  expect(ears.on('caredian/radar-1/error')).toEqual([expect.objectContaining({ error: 'retained_not_accepted', topic: 'caredian/radar-1/fall', event_id: 'kept-1' })]);
  expect(stored((e) => e.kind === 'fall' && e.event_id === 'kept-1')).toHaveLength(1);
  const fresh = await MqttPeer.connect(broker.url, { username: 'homeassistant', password: PASSWORD }, ['caredian/radar-1/fall']);
  try {
    await new Promise((r) => setTimeout(r, 400));
    expect(fresh.all).toEqual([]);
  } finally {
    await fresh.close();
  }
}, 40_000);
