// Home Assistant entities as sources (ha_sources), against the Home Assistant stand-in reached
// through the Supervisor's proxy as an add-on does: entities change state over the websocket API
// (subscribe_entities), and each new `on` or event becomes a stored alert on every sink, however
// either side restarts or loses the connection in between.
import { rmSync } from 'node:fs';
import type { StoredEvent } from '../../src/domain/records.js';
import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';
import { HaStandin, SUPERVISOR_TOKEN } from '../support/ha-standin.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const RADAR = 'binary_sensor.hallway_radar_fall';
const BUTTON = 'event.bedside_help_button';
const SOURCES = [
  { entity_id: RADAR, kind: 'fall', device_id: 'hallway-radar', person: 'Grandma Kim', location: 'hallway' },
  { entity_id: BUTTON, kind: 'help', person: 'Grandma Kim', location: 'bedroom' },
  { entity_id: 'binary_sensor.kitchen_radar_fall', kind: 'fall' },
];

let ha: HaStandin;
let h: Harness;
let hook: WebhookReceiver;

const env = () => ({ SUPERVISOR_TOKEN, SUPERVISOR_URL: ha.supervisorUrl, HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter', ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: hook.url }]), HA_SOURCES_JSON: JSON.stringify(SOURCES) });
const status = () => h.gw.readiness.evaluate().checks.ha_sources as unknown as { updates: number; warning?: string; sources: { entity_id: string; state: string | null }[] };
const alertsOf = (device: string) => hook.ofType('fall_detected').filter((g) => g.device_id === device);
const fallsOf = (device: string) => h.gw.store.readAfter(0, 100_000).filter((e): e is StoredEvent & { kind: 'fall' } => e.kind === 'fall' && e.device_id === device);
const phone = () => ha.serviceCalls.filter((c) => c.domain === 'notify' && c.service === 'mobile_app_daughter' && c.service_data.message !== 'clear_notification');
const settle = () => new Promise((r) => setTimeout(r, 500));

async function start(dataDir?: string): Promise<void> {
  h = await startGateway(env(), dataDir ? { dataDir, keepData: true } : { keepData: true });
  await waitFor(() => (h.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected' && status().updates > 0, 10_000, 'the sources followed');
}

/** Waits until the gateway has handled a change (or listing) after `before`. */
const handled = (before: number) => waitFor(() => status().updates > before, 20_000, 'the change handled');

async function acknowledge(alertId: string): Promise<void> {
  ha.pressAction(`CAREDIAN_ACK_${alertId}`);
  await waitFor(async () => {
    const r = (await (await fetch(`${h.adminUrl}/api/falls/${alertId}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { alert?: { state: string } };
    return r.alert?.state === 'acknowledged';
  }, 10_000, 'the acknowledgement');
}

beforeAll(async () => {
  ha = new HaStandin();
  await ha.start();
  await ha.startSupervisor();
  ha.setEntity(RADAR, 'off', { device_class: 'safety', friendly_name: 'Hallway radar fall' });
  ha.setEntity(BUTTON, 'unknown', { event_types: ['press'], friendly_name: 'Bedside help button' });
  hook = new WebhookReceiver();
  await hook.start();
  await start();
});
afterAll(async () => {
  await h?.close();
  rmSync(h.config.data_dir, { recursive: true, force: true });
  await ha?.close();
  await hook?.stop();
});

test('a source entity turning on raises one alert on every sink, stored with source ha_entity and the entity id, acknowledged from the phone', async () => {
  ha.setEntity(RADAR, 'on', { device_class: 'safety' });
  await waitFor(() => alertsOf('hallway-radar').length === 1 && phone().length === 1 && ha.firedEvents.some((e) => e.event_type === 'caredian_fall') && ha.serviceCalls.some((c) => c.domain === 'persistent_notification'), 10_000, 'the alert on every sink');
  const [rec] = fallsOf('hallway-radar');
  expect(rec).toMatchObject({ event: 'fall', prob: 1, source: 'ha_entity', entity_id: RADAR, client_id: 'home_assistant', decided: true, location: 'hallway', event_id: expect.stringMatching(/^ha-[0-9a-f]{40}$/) });
  expect(Number(BigInt(rec!.ts_ns) / 1_000_000n)).toBe(Date.parse(ha.states.get(RADAR)!.last_changed));
  expect(alertsOf('hallway-radar')[0]).toMatchObject({ alert_id: rec!.event_id, source: 'ha_entity', location: 'hallway' });
  expect(phone()[0]!.service_data).toMatchObject({ title: 'Fall detected: Grandma Kim', message: expect.stringMatching(/^Grandma Kim may have fallen in the hallway at \d\d:\d\d/) });
  expect(ha.firedEvents.find((e) => e.event_type === 'caredian_fall')!.event_data).toMatchObject({ device_id: 'hallway-radar', person: 'Grandma Kim', event_id: rec!.event_id });
  await settle();
  expect(alertsOf('hallway-radar')).toHaveLength(1);
  await acknowledge(rec!.event_id);
});

test('Home Assistant restarts with the entity still on (restored with a new last_changed), then the gateway restarts: no second alert', async () => {
  const before = status().updates;
  const onSince = ha.states.get(RADAR)!.last_changed;
  await ha.restart({ keep: [RADAR, BUTTON] });
  expect(ha.states.get(RADAR)).toMatchObject({ state: 'on' });
  expect(ha.states.get(RADAR)!.last_changed).not.toBe(onSince);
  await handled(before);
  await settle();
  expect(alertsOf('hallway-radar')).toHaveLength(1);

  const dataDir = h.config.data_dir;
  await h.gw.stop();
  await start(dataDir);
  await settle();
  expect(alertsOf('hallway-radar')).toHaveLength(1);
  expect(fallsOf('hallway-radar')).toHaveLength(1);
});

test('an on that happened while the gateway was disconnected (Home Assistant down, or the gateway stopped) is alerted after it reconnects', async () => {
  let before = status().updates;
  ha.setEntity(RADAR, 'off');
  await handled(before);
  await ha.stop();
  await waitFor(() => (h.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state !== 'connected', 10_000, 'the outage noticed');
  const fell = ha.setEntity(RADAR, 'on');
  await new Promise((r) => setTimeout(r, 300));
  await ha.start();
  await waitFor(() => alertsOf('hallway-radar').length === 2, 30_000, 'the fall during the outage alerted');
  const second = fallsOf('hallway-radar')[1]!;
  // Its time is when it happened, not when the gateway heard of it.
  expect(Number(BigInt(second.ts_ns) / 1_000_000n)).toBe(Date.parse(fell.last_changed));
  await acknowledge(second.event_id);

  before = status().updates;
  ha.setEntity(RADAR, 'off');
  await handled(before);
  const dataDir = h.config.data_dir;
  await h.gw.stop();
  ha.setEntity(RADAR, 'on');
  await start(dataDir);
  await waitFor(() => alertsOf('hallway-radar').length === 3, 10_000, 'the fall while the gateway was stopped alerted');
  await settle();
  expect(alertsOf('hallway-radar')).toHaveLength(3);
  expect(fallsOf('hallway-radar')).toHaveLength(3);
  await acknowledge(fallsOf('hallway-radar')[2]!.event_id);
}, 60_000);

test('unavailable marks the device offline; coming back still on is not a new fall', async () => {
  const device = async () => ((await (await fetch(`${h.adminUrl}/api/devices`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { devices: { device_id: string; online: boolean }[] }).devices.find((d) => d.device_id === 'hallway-radar');
  expect(await device()).toMatchObject({ online: true });
  let before = status().updates;
  ha.setEntity(RADAR, 'unavailable');
  await handled(before);
  expect(await device()).toMatchObject({ online: false });
  expect(h.logs.text).toMatch(/binary_sensor.hallway_radar_fall is unavailable in Home Assistant/);
  before = status().updates;
  ha.setEntity(RADAR, 'on');
  await handled(before);
  expect(await device()).toMatchObject({ online: true });
  await settle();
  expect(alertsOf('hallway-radar')).toHaveLength(3);
});

test('a help button (an event entity): every press is a call for help, worded as one, none held back by a cooldown', async () => {
  const before = phone().length;
  ha.setEntity(BUTTON, new Date().toISOString(), { event_types: ['press'], event_type: 'press' });
  await waitFor(() => alertsOf('bedside_help_button').length === 1, 10_000, 'the first call for help');
  ha.setEntity(BUTTON, new Date(Date.now() + 1).toISOString(), { event_types: ['press'], event_type: 'press' });
  await waitFor(() => alertsOf('bedside_help_button').length === 2, 10_000, 'the second call for help');
  const calls = alertsOf('bedside_help_button');
  expect(calls.map((c) => c.kind)).toEqual(['help', 'help']);
  expect(new Set(calls.map((c) => c.alert_id)).size).toBe(2);
  expect(fallsOf('bedside_help_button').map((e) => [e.event, e.source, e.entity_id])).toEqual([
    ['help', 'ha_entity', BUTTON],
    ['help', 'ha_entity', BUTTON],
  ]);
  await waitFor(() => phone().length >= before + 2, 10_000, 'the phone told');
  expect(phone()[before]!.service_data).toMatchObject({ title: 'Call for help: Grandma Kim', message: expect.stringMatching(/^Grandma Kim is calling for help in the bedroom at \d\d:\d\d/) });
});

test('a source entity Home Assistant does not have: the status says so, in words', () => {
  const s = status();
  expect(s.sources.find((x) => x.entity_id === 'binary_sensor.kitchen_radar_fall')).toMatchObject({ state: null });
  expect(s.warning).toMatch(/Home Assistant has no entity binary_sensor\.kitchen_radar_fall: falls from it are not heard; check ha_sources/);
  expect(h.gw.readiness.evaluate().status).toBe('degraded');
});
