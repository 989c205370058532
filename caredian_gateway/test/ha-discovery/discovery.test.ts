// Home Assistant devices through MQTT discovery, against a real Mosquitto broker (Debian
// `mosquitto`) with a password file; "Home Assistant" is an MQTT client that reads what HA would.
import { rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import { ADMIN_TOKEN, CLIENT_ID, startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';
import { startChildGateway } from '../support/child-gateway.js';

const GW_USER = { username: 'gateway', password: 'gateway-password-0123' };
const HA_USER = { username: 'homeassistant', password: 'ha-password-0123456' };
const NODE = 'caredian_esp32_01';

/** What Home Assistant's MQTT integration would see: the last payload per topic, and every message. */
class HaView {
  last = new Map<string, { payload: string; retain: boolean }>();
  all: { topic: string; payload: string; retain: boolean }[] = [];
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, p, packet) => {
      const m = { topic, payload: p.toString(), retain: packet.retain };
      this.last.set(topic, m);
      this.all.push(m);
    });
  }
  static async connect(url: string): Promise<HaView> {
    // MQTT 5 with retain-as-published, so the test sees the retain flag the gateway set.
    const client = await mqtt.connectAsync(url, { ...HA_USER, protocolVersion: 5, clientId: `ha-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 500 });
    const v = new HaView(client);
    await client.subscribeAsync(['homeassistant/#', 'caredian/#'], { qos: 1, rap: true });
    return v;
  }
  json(topic: string): Record<string, unknown> | undefined {
    const m = this.last.get(topic);
    return m && m.payload ? (JSON.parse(m.payload) as Record<string, unknown>) : undefined;
  }
  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

let broker: Mosquitto;
let h: Harness;
let ha: HaView;

const env = () => ({ MQTT_URL: broker.url, MQTT_USERNAME: GW_USER.username, MQTT_PASSWORD: GW_USER.password });

async function post(path: string, body: Record<string, unknown>, token: string): Promise<Response> {
  return fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
}

beforeAll(async () => {
  broker = await Mosquitto.create([GW_USER, HA_USER]);
  h = await startGateway(env());
  ha = await HaView.connect(broker.url);
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected', 10_000, 'MQTT connected');
});
afterAll(async () => {
  await ha?.close();
  await h?.close();
  await broker?.destroy();
});

test('a device gets one Home Assistant device with unique_id entities, linked to the gateway device', async () => {
  const t = await h.token();
  expect((await post('/devices/heartbeat', { device_id: CLIENT_ID, battery: 87, fw: '1.4.2' }, t)).status).toBe(200);
  await waitFor(() => ha.json(`homeassistant/button/${NODE}/im_ok/config`), 10_000, 'discovery of the device (its last config)');
  const expected = [
    ['binary_sensor', 'fall'],
    ['event', 'fall_event'],
    ['binary_sensor', 'online'],
    ['sensor', 'battery'],
    ['sensor', 'fall_probability'],
    ['button', 'acknowledge'],
    ['button', 'im_ok'],
  ];
  for (const [domain, key] of expected) {
    const cfg = ha.json(`homeassistant/${domain}/${NODE}/${key}/config`)!;
    expect(ha.last.get(`homeassistant/${domain}/${NODE}/${key}/config`)!.retain).toBe(true);
    expect(cfg).toMatchObject({ unique_id: `${NODE}_${key}`, default_entity_id: `${domain}.${NODE}_${key}`, availability: [{ topic: 'caredian/gateway/availability' }] });
    expect(cfg.device).toMatchObject({ identifiers: [NODE], name: CLIENT_ID, manufacturer: 'CareDian', via_device: 'caredian_gateway', sw_version: '1.4.2' });
  }
  const fall = ha.json(`homeassistant/binary_sensor/${NODE}/fall/config`)!;
  expect(fall).toMatchObject({ device_class: 'safety', state_topic: `caredian/${CLIENT_ID}/state`, payload_on: 'ON', payload_off: 'OFF' });
  expect(ha.json(`homeassistant/event/${NODE}/fall_event/config`)).toMatchObject({ event_types: ['fall_pending', 'fall_cancelled', 'fall_detected', 'fall_escalated', 'fall_acknowledged'], state_topic: `caredian/${CLIENT_ID}/event` });
  expect(ha.json(`homeassistant/button/${NODE}/acknowledge/config`)).toMatchObject({ command_topic: `caredian/${CLIENT_ID}/acknowledge`, payload_press: 'PRESS' });
  // The gateway is a device too, online by its availability topic.
  for (const key of ['status', 'open_alerts']) expect(ha.json(`homeassistant/sensor/caredian_gateway/${key}/config`)).toMatchObject({ unique_id: `caredian_gateway_${key}`, device: { identifiers: ['caredian_gateway'], name: 'CareDian Gateway' } });
  expect(ha.json('homeassistant/button/caredian_gateway/test_alert/config')).toMatchObject({ command_topic: 'caredian/gateway/test_alert' });
  expect(ha.last.get('caredian/gateway/availability')).toMatchObject({ payload: 'online', retain: true });
  await waitFor(() => ha.json(`caredian/${CLIENT_ID}/state`)?.battery === 87, 10_000, 'the battery state');
  expect(ha.json(`caredian/${CLIENT_ID}/state`)).toMatchObject({ fall: 'OFF', online: 'ON', battery: 87 });
  // Each config was sent once: a heartbeat does not send discovery again.
  const configs = ha.all.filter((m) => m.topic.startsWith(`homeassistant/`) && m.topic.includes(NODE));
  expect(configs.length).toBe(expected.length);
});

test('a fall turns the fall entity on and fires the event entity; Acknowledge from Home Assistant clears it', async () => {
  const t = await h.token();
  const r = await post('/events/fall', { device_id: CLIENT_ID, location: 'bathroom', event: 'fall', prob: 0.94 }, t);
  expect(r.status).toBe(200);
  const { event_id } = (await r.json()) as { event_id: string };
  await waitFor(() => ha.json(`caredian/${CLIENT_ID}/state`)?.fall === 'ON', 10_000, 'the fall entity on');
  const state = ha.json(`caredian/${CLIENT_ID}/state`)!;
  expect(state).toMatchObject({ fall: 'ON', probability: 0.94, alert: { alert_id: event_id, location: 'bathroom', state: 'open' } });
  expect(ha.last.get(`caredian/${CLIENT_ID}/state`)!.retain).toBe(true);
  await waitFor(() => ha.all.some((m) => m.topic === `caredian/${CLIENT_ID}/event` && JSON.parse(m.payload).event_type === 'fall_detected'), 10_000, 'the fall event');
  const ev = ha.all.filter((m) => m.topic === `caredian/${CLIENT_ID}/event`);
  expect(ev.map((m) => [JSON.parse(m.payload).event_type, m.retain])).toEqual([['fall_detected', false]]);
  expect(JSON.parse(ev[0]!.payload)).toMatchObject({ alert_id: event_id, location: 'bathroom', probability: 0.94 });

  // A restarted Home Assistant subscribes again: it gets the retained state, still on (no new transition).
  const ha2 = await HaView.connect(broker.url);
  try {
    await waitFor(() => ha2.json(`caredian/${CLIENT_ID}/state`), 5000, 'retained state');
    expect(ha2.last.get(`caredian/${CLIENT_ID}/state`)).toMatchObject({ retain: true });
    expect(ha2.json(`caredian/${CLIENT_ID}/state`)!.fall).toBe('ON');
    expect(ha2.all.some((m) => m.topic.endsWith('/event'))).toBe(false);
  } finally {
    await ha2.close();
  }

  // Pressing the Acknowledge button.
  await ha.client.publishAsync(`caredian/${CLIENT_ID}/acknowledge`, 'PRESS', { qos: 1 });
  await waitFor(() => ha.json(`caredian/${CLIENT_ID}/state`)?.fall === 'OFF', 10_000, 'the fall entity off');
  await waitFor(() => ha.all.some((m) => m.topic === `caredian/${CLIENT_ID}/event` && JSON.parse(m.payload).event_type === 'fall_acknowledged'), 10_000, 'the acknowledged event');
  const acked = ha.all.filter((m) => m.topic === `caredian/${CLIENT_ID}/event`).map((m) => JSON.parse(m.payload));
  expect(acked.at(-1)).toMatchObject({ event_type: 'fall_acknowledged', alert_id: event_id, acknowledged_by: 'Home Assistant (Acknowledge button)' });
  const falls = (await (await fetch(`${h.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: { id: string; state: string }[] };
  expect(falls.falls.find((f) => f.id === event_id)).toMatchObject({ state: 'acknowledged' });
  expect(ha.json(`caredian/${CLIENT_ID}/state`)).toMatchObject({ alert: { state: 'acknowledged', acknowledged_by: 'Home Assistant (Acknowledge button)' } });
});

test('Home Assistant says online on its status topic: discovery is sent again', async () => {
  const topic = `homeassistant/binary_sensor/${NODE}/fall/config`;
  await ha.client.publishAsync(topic, '', { qos: 1, retain: true });
  await waitFor(() => ha.last.get(topic)?.payload === '', 5000, 'config cleared');
  await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await waitFor(() => ha.json(topic), 10_000, 'discovery sent again');
  expect(ha.json(topic)).toMatchObject({ unique_id: `${NODE}_fall` });
  expect(ha.json('homeassistant/sensor/caredian_gateway/status/config')).toBeDefined();
});

test('the broker restarted with its retained messages lost: availability, discovery and states come back', async () => {
  await broker.stop();
  for (const f of readdirSync(broker.dir)) if (f.endsWith('.db')) rmSync(join(broker.dir, f));
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state !== 'connected', 10_000, 'the lost connection noticed');
  const r = h.gw.readiness.evaluate();
  expect(r.warnings.join(' ')).toMatch(/MQTT broker unreachable/);
  await broker.start();
  const fresh = await HaView.connect(broker.url);
  try {
    await waitFor(() => fresh.last.get('caredian/gateway/availability')?.payload === 'online', 15_000, 'availability after the restart');
    await waitFor(() => fresh.json(`homeassistant/binary_sensor/${NODE}/fall/config`), 10_000, 'discovery after the restart');
    await waitFor(() => fresh.json(`caredian/${CLIENT_ID}/state`), 10_000, 'state after the restart');
    expect(fresh.json(`caredian/${CLIENT_ID}/state`)).toMatchObject({ fall: 'OFF', online: 'ON', battery: 87 });
  } finally {
    await fresh.close();
  }
  await ha.close();
  ha = await HaView.connect(broker.url);
});

test('the test-alert button sends a test alert through every sink, marked as a test', async () => {
  await ha.client.publishAsync('caredian/gateway/test_alert', 'PRESS', { qos: 1 });
  const falls = await waitFor(async () => {
    const f = (await (await fetch(`${h.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: { id: string; test?: boolean; state: string; device_id: string }[] };
    return f.falls.find((x) => x.test);
  }, 10_000, 'the test alert');
  expect(falls).toMatchObject({ test: true, state: 'open', device_id: 'gateway' });
  expect(h.logs.text).toMatch(/TEST alert requested/);
  await waitFor(() => ha.json('caredian/gateway/state')?.open_alerts === 1, 10_000, 'open alerts on the gateway device');
});

test('kill -9 of the gateway: its last will marks it offline in Home Assistant', async () => {
  const g = await startChildGateway({ DATA_DIR: tempDir(), ...env(), MQTT_BASE_TOPIC: 'caredian_child' });
  const view = await HaView.connect(broker.url);
  try {
    await view.client.subscribeAsync('caredian_child/#', { qos: 1, rap: true });
    await waitFor(() => view.last.get('caredian_child/gateway/availability')?.payload === 'online', 10_000, 'child online');
    await g.kill('SIGKILL');
    await waitFor(() => view.last.get('caredian_child/gateway/availability')?.payload === 'offline', 10_000, 'offline by the last will');
    expect(view.last.get('caredian_child/gateway/availability')!.retain).toBe(true);
  } finally {
    await g.kill();
    await view.close();
  }
});

test('no broker configured: MQTT and discovery say so, no delivery waits for them', async () => {
  const g = await startGateway();
  try {
    const r = g.gw.readiness.evaluate();
    expect(r.checks.mqtt).toMatchObject({ ready: true, state: 'not_configured', detail: expect.stringMatching(/no MQTT broker configured/) });
    expect(r.checks.ha_discovery).toMatchObject({ mode: 'off' });
    const t = await g.token();
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.9 }) });
    await new Promise((res) => setTimeout(res, 300));
    expect(g.gw.readiness.evaluate().checks.alerts).toMatchObject({ outbox: 0 });
  } finally {
    await g.close();
  }
});

test('a wrong broker password: one clear error, status says unreachable', async () => {
  const g = await startGateway({ ...env(), MQTT_PASSWORD: 'wrong-password-xxxx' });
  try {
    await waitFor(() => g.logs.text.includes('MQTT error'), 10_000, 'the error');
    expect(g.logs.text).toMatch(/Not authorized|Bad username or password/i);
    expect(g.logs.text).not.toContain('wrong-password-xxxx');
    const r = g.gw.readiness.evaluate();
    expect(r.status).toBe('degraded');
    expect(r.warnings.join(' ')).toMatch(/MQTT broker unreachable/);
  } finally {
    await g.close();
  }
});

test("the wearer's window over MQTT: the device hears of its pending fall, and I'm OK cancels it", async () => {
  const g = await startGateway({ ...env(), CONFIRM_WINDOW_SEC: '30', MQTT_BASE_TOPIC: 'caredian_w' });
  const view = await HaView.connect(broker.url);
  try {
    await view.client.subscribeAsync('caredian_w/#', { qos: 1, rap: true });
    await waitFor(() => (g.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected', 10_000, 'MQTT connected');
    const t = await g.token();
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.9 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    await waitFor(() => view.json(`caredian_w/${CLIENT_ID}/alert`)?.state === 'pending', 10_000, 'the pending notice to the device');
    const notice = view.json(`caredian_w/${CLIENT_ID}/alert`)!;
    expect(notice).toMatchObject({ id: event_id, state: 'pending' });
    const until = Date.parse(notice.cancel_before as string);
    expect(until - Date.now()).toBeGreaterThan(20_000);
    expect(until - Date.now()).toBeLessThanOrEqual(30_000);
    expect(view.all.some((m) => m.topic === `caredian_w/${CLIENT_ID}/event` && JSON.parse(m.payload).event_type === 'fall_pending')).toBe(true);
    // While pending, the fall entity is not on: no automation alerts anyone yet.
    expect(view.json(`caredian_w/${CLIENT_ID}/state`)).toMatchObject({ fall: 'OFF', alert: { state: 'pending' } });
    await view.client.publishAsync(`caredian_w/${CLIENT_ID}/cancel`, 'PRESS', { qos: 1 });
    await waitFor(() => view.json(`caredian_w/${CLIENT_ID}/alert`)?.state === 'cancelled', 10_000, 'the cancel');
    expect(view.all.some((m) => m.topic === `caredian_w/${CLIENT_ID}/event` && JSON.parse(m.payload).event_type === 'fall_cancelled')).toBe(true);
    expect(view.all.some((m) => m.topic === `caredian_w/${CLIENT_ID}/event` && JSON.parse(m.payload).event_type === 'fall_detected')).toBe(false);
    const falls = (await (await fetch(`${g.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: { id: string; state: string; cancelled_by_wearer?: boolean }[] };
    expect(falls.falls.find((f) => f.id === event_id)).toMatchObject({ state: 'cancelled', cancelled_by_wearer: true });
  } finally {
    await view.close();
    await g.close();
  }
});

test('a device removed from the gateway is removed from Home Assistant (empty retained configs)', async () => {
  const t = await h.token();
  expect((await post('/devices/heartbeat', { device_id: 'band-gone', battery: 50 }, t)).status).toBe(200);
  const topic = 'homeassistant/binary_sensor/caredian_band_gone/fall/config';
  await waitFor(() => ha.json(topic), 10_000, 'discovery of the device');
  const r = await fetch(`${h.adminUrl}/api/devices/band-gone`, { method: 'DELETE', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  const keys = ['fall', 'fall_event', 'online', 'battery', 'fall_probability', 'acknowledge', 'im_ok'];
  const configOf = (key: string) => [...ha.last.entries()].find(([k]) => k.includes('caredian_band_gone') && k.endsWith(`/${key}/config`))?.[1];
  await waitFor(() => keys.every((key) => configOf(key)?.payload === ''), 10_000, 'every config emptied');
  for (const key of keys) expect(configOf(key)).toMatchObject({ payload: '', retain: true });
  // A new subscriber (Home Assistant after a restart) finds nothing retained for it.
  const fresh = await HaView.connect(broker.url);
  try {
    await new Promise((res) => setTimeout(res, 500));
    expect([...fresh.last.keys()].filter((k) => k.includes('caredian_band_gone'))).toEqual([]);
  } finally {
    await fresh.close();
  }
});
