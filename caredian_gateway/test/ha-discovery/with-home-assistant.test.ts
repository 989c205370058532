// As an add-on with the Mosquitto broker add-on: the broker comes from the Supervisor's services
// API, devices are MQTT-discovered (no plain REST states), and the Acknowledge button in Home
// Assistant also clears every phone's notification.
import mqtt from 'mqtt';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import { CLIENT_ID, startGateway, waitFor, type Harness } from '../support/harness.js';
import { HaStandin, SUPERVISOR_TOKEN } from '../support/ha-standin.js';

const BROKER_USER = { username: 'addons', password: 'addons-password-0123' };
let broker: Mosquitto;
let ha: HaStandin;
let h: Harness;

beforeAll(async () => {
  broker = await Mosquitto.create([BROKER_USER]);
  ha = new HaStandin();
  await ha.start();
  await ha.startSupervisor();
  ha.mqttService = { host: '127.0.0.1', port: broker.port, ...BROKER_USER };
  h = await startGateway({ SUPERVISOR_TOKEN, SUPERVISOR_URL: ha.supervisorUrl, HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter,notify.mobile_app_son', DEVICES_JSON: JSON.stringify([{ device_id: CLIENT_ID, name: 'Wrist band', person: 'Grandma Kim', placement: 'wrist' }]) });
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected' && (h.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected', 10_000, 'both connections');
});
afterAll(async () => {
  await h?.close();
  await ha?.close();
  await broker?.destroy();
});

test('the broker is found through the Supervisor, and devices go through MQTT discovery only', async () => {
  expect(ha.supervisorRequests).toContain('GET /services/mqtt');
  const r = h.gw.readiness.evaluate();
  expect(r.checks.mqtt).toMatchObject({ detail: expect.stringMatching(/from supervisor/) });
  expect(r.checks.home_assistant).toMatchObject({ entities: 'mqtt', detail: expect.stringMatching(/MQTT discovery/) });
  const client = await mqtt.connectAsync(broker.url, { ...BROKER_USER, protocolVersion: 5 });
  const seen = new Map<string, string>();
  client.on('message', (t, p) => seen.set(t, p.toString()));
  await client.subscribeAsync('homeassistant/#', { qos: 1 });
  try {
    const t = await h.token();
    await fetch(`${h.url}/devices/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, battery: 70 }) });
    await waitFor(() => seen.get('homeassistant/binary_sensor/caredian_esp32_01/fall/config'), 10_000, 'discovery');
    const cfg = JSON.parse(seen.get('homeassistant/binary_sensor/caredian_esp32_01/fall/config')!) as { device: { name: string; model: string } };
    expect(cfg.device).toMatchObject({ name: 'Wrist band', model: 'Fall sensor (wrist)' });
    // No plain REST state was set for the device (it would clash with the discovered entity).
    await new Promise((res) => setTimeout(res, 500));
    expect([...ha.states.keys()].filter((k) => k.includes('caredian_esp32_01'))).toEqual([]);
  } finally {
    await client.endAsync();
  }
});

test('Acknowledge pressed in Home Assistant clears the phones and fires caredian_fall_acknowledged', async () => {
  const t = await h.token();
  const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, location: 'bathroom', event: 'fall', prob: 0.9 }) });
  const { event_id } = (await r.json()) as { event_id: string };
  const tag = `caredian_${event_id}`;
  await waitFor(() => ha.serviceCalls.filter((c) => (c.service_data.data as { tag?: string } | undefined)?.tag === tag).length === 2, 10_000, 'the two phones notified');
  const client = await mqtt.connectAsync(broker.url, BROKER_USER);
  try {
    await client.publishAsync(`caredian/${CLIENT_ID}/acknowledge`, 'PRESS', { qos: 1 });
  } finally {
    await client.endAsync();
  }
  await waitFor(() => ha.serviceCalls.filter((c) => c.service_data.message === 'clear_notification' && (c.service_data.data as { tag?: string }).tag === tag).length === 2, 10_000, 'both phones cleared');
  await waitFor(() => ha.firedEvents.some((e) => e.event_type === 'caredian_fall_acknowledged' && e.event_data.event_id === event_id), 10_000, 'the acknowledged event');
  expect(ha.firedEvents.find((e) => e.event_type === 'caredian_fall_acknowledged' && e.event_data.event_id === event_id)!.event_data).toMatchObject({ acknowledged_by: 'Home Assistant (Acknowledge button)' });
  // Each delivery is its own outbox entry: the dismissal may land after the event.
  await waitFor(() => ha.serviceCalls.some((c) => c.domain === 'persistent_notification' && c.service === 'dismiss' && c.service_data.notification_id === tag), 10_000, 'the persistent notification dismissed');
});

test('without a broker add-on the Supervisor says so, and the gateway falls back to plain states', async () => {
  const ha2 = new HaStandin();
  await ha2.start();
  await ha2.startSupervisor();
  const g = await startGateway({ SUPERVISOR_TOKEN, SUPERVISOR_URL: ha2.supervisorUrl });
  try {
    await waitFor(() => (g.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected', 10_000, 'connected');
    const r = g.gw.readiness.evaluate();
    expect(r.checks.mqtt).toMatchObject({ state: 'not_configured', detail: expect.stringMatching(/Service not enabled.*Mosquitto/) });
    expect(r.checks.home_assistant).toMatchObject({ entities: 'rest', detail: expect.stringMatching(/plain entity states.*no device page/) });
    const t = await g.token();
    await fetch(`${g.url}/devices/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, battery: 70 }) });
    await waitFor(() => ha2.states.has('binary_sensor.caredian_esp32_01_online'), 10_000, 'the REST state');
  } finally {
    await g.close();
    await ha2.close();
  }
});

test("the wearer's window in Home Assistant: a pending event first, no phone; I'm OK after the alert clears the phones", async () => {
  const ha3 = new HaStandin();
  await ha3.start();
  await ha3.startSupervisor();
  const g = await startGateway({ SUPERVISOR_TOKEN, SUPERVISOR_URL: ha3.supervisorUrl, HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter,notify.mobile_app_son', CONFIRM_WINDOW_SEC: '3' });
  try {
    await waitFor(() => (g.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected', 10_000, 'connected');
    const t = await g.token();
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: CLIENT_ID, event: 'fall', prob: 0.9 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    const tag = `caredian_${event_id}`;
    await waitFor(() => ha3.firedEvents.some((e) => e.event_type === 'caredian_fall_pending' && e.event_data.event_id === event_id), 5000, 'the pending event');
    expect(ha3.firedEvents.find((e) => e.event_type === 'caredian_fall_pending')!.event_data).toMatchObject({ cancel_before: expect.any(String) });
    expect(ha3.serviceCalls.filter((c) => (c.service_data.data as { tag?: string } | undefined)?.tag === tag)).toEqual([]);
    await waitFor(() => ha3.serviceCalls.filter((c) => c.domain === 'notify' && (c.service_data.data as { tag?: string } | undefined)?.tag === tag).length === 2, 10_000, 'the phones after the window');
    const c = await fetch(`${g.url}/alerts/${event_id}/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${t}` } });
    expect(await c.json()).toMatchObject({ alert: { state: 'acknowledged', cancelled_by_wearer: true } });
    await waitFor(() => ha3.serviceCalls.filter((x) => x.service_data.message === 'clear_notification' && (x.service_data.data as { tag?: string }).tag === tag).length === 2, 10_000, 'both phones cleared');
    await waitFor(() => ha3.firedEvents.some((e) => e.event_type === 'caredian_fall_acknowledged' && e.event_data.event_id === event_id && e.event_data.cancelled_by_wearer === true), 10_000, 'the resolution event');
  } finally {
    await g.close();
    await ha3.close();
  }
}, 30_000);
