import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';
import { HA_TOKEN, HaStandin, SUPERVISOR_TOKEN, VALID_ENTITY_ID } from '../support/ha-standin.js';
import { Slugs } from '../../src/ha/entity-ids.js';
import { AlertService } from '../../src/alerting/alert-service.js';

let ha: HaStandin;
let h: Harness;
// As an add-on: Home Assistant through the Supervisor's proxy (/core/websocket, /core/api).
const DEVICES = [
  { device_id: 'band-7', name: 'Wrist band', person: 'Grandma Kim', placement: 'wrist' },
  { device_id: 'radar-2', name: 'Kitchen radar', location: 'kitchen' },
];
beforeAll(async () => {
  ha = new HaStandin();
  await ha.start();
  await ha.startSupervisor();
  h = await startGateway({ SUPERVISOR_TOKEN, SUPERVISOR_URL: ha.supervisorUrl, HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter,notify.mobile_app_son', FALL_COOLDOWN_SEC: '300', LOCATION_DEFAULT: 'living_room', DEVICES_JSON: JSON.stringify(DEVICES) });
  await waitFor(() => h.gw.module(AlertService) && (h.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected', 10_000, 'connection to the stand-in');
});
afterAll(async () => {
  await h.close();
  await ha.close();
});

const cleared = (tag: string) => ha.serviceCalls.filter((c) => c.service_data.message === 'clear_notification' && (c.service_data.data as { tag?: string }).tag === tag).map((c) => `${c.domain}.${c.service}`).sort();

const post = async (path: string, scope: string, body: unknown) => {
  const t = await h.token(scope);
  const r = await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify(body) });
  expect(r.status).toBe(200);
  return (await r.json()) as { event_id: string };
};
const fall = (device_id: string, extra: Record<string, unknown> = {}) => post('/events/fall', 'events:fall:ingest', { device_id, event: 'fall', prob: 0.93, ...extra });

test('entity ids are slugified, odd ids included, and stay distinct', () => {
  const s = new Slugs();
  expect(s.of('ESP32-01')).toBe('esp32_01');
  expect(s.of('Living Room (wall)')).toBe('living_room_wall');
  expect(s.of('esp32_01')).toMatch(/^esp32_01_[0-9a-f]{6}$/);
  expect(s.of('거실 센서')).toMatch(/^device_[0-9a-f]{6}$/);
  expect(s.of('band:3@home')).toBe('band_3_home');
  expect(s.of('ESP32-01')).toBe('esp32_01');
  // Home Assistant answers 400 to anything else (its valid_entity_id).
  for (const id of ['ESP32-01', 'Living Room (wall)', 'esp32_01', '거실 센서', 'band:3@home', '__x__', 'A--B']) expect([id, VALID_ENTITY_ID.test(`binary_sensor.caredian_${s.of(id)}_fall`)]).toEqual([id, true]);
});

test('the gateway talks to Home Assistant through the Supervisor: its websocket and REST paths', async () => {
  expect(h.gw.readiness.evaluate().checks.home_assistant).toMatchObject({ state: 'connected', via: 'supervisor' });
  await post('/devices/heartbeat', 'devices:write', { device_id: 'probe-1', battery: 50 });
  await waitFor(() => ha.states.has('sensor.caredian_probe_1_battery'), 5000, 'an entity set through the proxy');
  expect(ha.supervisorRequests).toContain('WS /core/websocket');
  expect(ha.supervisorRequests).toContain('POST /core/api/states/sensor.caredian_probe_1_battery');
  // A wrong token gets the Supervisor's own answer, not Home Assistant's.
  const r = await fetch(`${ha.supervisorUrl}/core/api/states/sensor.x`, { method: 'POST', headers: { Authorization: 'Bearer nope' }, body: '{}' });
  expect([r.status, await r.text()]).toEqual([401, '401: Unauthorized']);
  const bad = await fetch(`${ha.supervisorUrl}/core/api/states/sensor.Bad-Id`, { method: 'POST', headers: { Authorization: `Bearer ${SUPERVISOR_TOKEN}`, 'Content-Type': 'application/json' }, body: '{"state":"1"}' });
  expect([bad.status, await bad.json()]).toEqual([400, { message: 'Invalid entity ID specified.' }]);
});

test('a fall: caredian_fall event, actionable notifications to every target, persistent notification, entities', async () => {
  await post('/devices/heartbeat', 'devices:write', { device_id: 'band-7', battery: 87 });
  const { event_id } = await fall('band-7', { location: 'bathroom', ts: 1763800000 });
  // Delivery order is event, phones, persistent notification; wait for all of it.
  await waitFor(
    () => ha.serviceCalls.filter((c) => c.domain === 'notify').length >= 2 && ha.firedEvents.some((e) => e.event_type === 'caredian_fall') && ha.serviceCalls.some((c) => c.domain === 'persistent_notification'),
    10_000,
    'alert delivery',
  );
  const ev = ha.firedEvents.find((e) => e.event_type === 'caredian_fall')!;
  expect(ev.event_data).toEqual({ device_id: 'band-7', location: 'bathroom', probability: 0.93, source: 'sensor', event_id, time: '2025-11-22T08:26:40.000Z', person: 'Grandma Kim', device_name: 'Wrist band' });
  const notes = ha.serviceCalls.filter((c) => c.domain === 'notify');
  expect(notes.map((c) => c.service).sort()).toEqual(['mobile_app_daughter', 'mobile_app_son']);
  const n = notes[0]!.service_data as { title: string; message: string; data: { actions: { action: string; title: string }[]; push: unknown; priority: string; tag: string } };
  // The person, the place and the local time (the jest process's time zone).
  const at = new Date('2025-11-22T08:26:40Z').toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  expect(n.title).toBe('Fall detected: Grandma Kim');
  expect(n.message).toBe(`Grandma Kim may have fallen in the bathroom on 22 Nov at ${at} (Wrist band, confidence 93%).`);
  expect(n.data.actions).toEqual([{ action: `CAREDIAN_ACK_${event_id}`, title: 'Acknowledge' }, { action: `CAREDIAN_OMW_${event_id}`, title: "I'm on my way" }]);
  expect(n.data).toMatchObject({ priority: 'high', tag: `caredian_${event_id}`, push: { sound: { critical: 1 } } });
  expect(ha.serviceCalls.find((c) => c.domain === 'persistent_notification' && c.service === 'create')!.service_data).toMatchObject({ title: 'Fall detected: Grandma Kim', message: n.message, notification_id: `caredian_${event_id}` });
  await waitFor(() => ha.states.get('binary_sensor.caredian_band_7_fall')?.state === 'on', 5000, 'fall entity on');
  expect(ha.states.get('binary_sensor.caredian_band_7_fall')!.attributes).toMatchObject({ device_class: 'safety', friendly_name: 'Grandma Kim fall (Wrist band)', person: 'Grandma Kim', device_name: 'Wrist band', placement: 'wrist', location: 'bathroom', probability: 0.93, source: 'sensor', event_id, acknowledged: false, acknowledged_by: null });
  await waitFor(() => ha.states.has('binary_sensor.caredian_band_7_online') && ha.states.has('sensor.caredian_band_7_battery'), 5000, 'device entities');
  expect(ha.states.get('binary_sensor.caredian_band_7_online')).toMatchObject({ state: 'on', attributes: { device_class: 'connectivity', friendly_name: 'Grandma Kim online (Wrist band)' } });
  expect(ha.states.get('sensor.caredian_band_7_battery')).toMatchObject({ state: '87', attributes: { device_class: 'battery', unit_of_measurement: '%', friendly_name: 'Grandma Kim battery (Wrist band)' } });
});

test('a second fall inside the cooldown updates the open alert instead of notifying again, and is still stored', async () => {
  const first = await fall('radar-2', { location: 'kitchen' });
  const tagged = (id: string) => ha.serviceCalls.filter((c) => (c.service_data as { data?: { tag?: string } }).data?.tag === `caredian_${id}`).length;
  await waitFor(() => tagged(first.event_id) === 2 && ha.serviceCalls.some((c) => c.service_data.notification_id === `caredian_${first.event_id}`), 10_000, 'first alert, both phones and the persistent notification');
  const notifyCount = ha.serviceCalls.filter((c) => c.domain === 'notify').length;
  const seqBefore = h.gw.store.lastCommittedSeq;
  await fall('radar-2', { location: 'kitchen', prob: 0.99 });
  expect(h.gw.store.lastCommittedSeq).toBe(seqBefore + 1);
  await waitFor(() => (ha.states.get('binary_sensor.caredian_radar_2_fall')?.attributes.falls as number) === 2, 5000, 'entity updated');
  expect(ha.states.get('binary_sensor.caredian_radar_2_fall')!.attributes).toMatchObject({ probability: 0.99, event_id: first.event_id });
  await new Promise((r) => setTimeout(r, 300));
  expect(ha.serviceCalls.filter((c) => c.domain === 'notify').length).toBe(notifyCount);
});

test('acknowledge with the notification button: entity off with who (a name) and when, event fired, notification cleared on every phone, stored', async () => {
  const { event_id } = await fall('watch-3', { location: 'hall' });
  await waitFor(() => ha.states.get('binary_sensor.caredian_watch_3_fall')?.state === 'on', 10_000, 'alert open');
  // Tom's phone: the companion app's event names Tom's user id; Tom is the person "Tom Kim".
  ha.pressAction(`CAREDIAN_ACK_${event_id}`, ha.users.find((u) => u.name === 'Tom')!.id);
  await waitFor(() => ha.states.get('binary_sensor.caredian_watch_3_fall')?.state === 'off', 5000, 'entity off');
  expect(ha.states.get('binary_sensor.caredian_watch_3_fall')!.attributes).toMatchObject({ acknowledged: true, acknowledged_by: 'Tom Kim', acknowledged_at: expect.any(String) });
  await waitFor(() => ha.firedEvents.some((e) => e.event_type === 'caredian_fall_acknowledged' && e.event_data.event_id === event_id), 5000, 'ack event');
  expect(ha.firedEvents.find((e) => e.event_type === 'caredian_fall_acknowledged' && e.event_data.event_id === event_id)!.event_data.acknowledged_by).toBe('Tom Kim');
  await waitFor(() => ha.serviceCalls.some((c) => c.domain === 'persistent_notification' && c.service === 'dismiss' && c.service_data.notification_id === `caredian_${event_id}`), 5000, 'dismiss');
  // The companion app removes a notification when told clear_notification with its tag.
  await waitFor(() => cleared(`caredian_${event_id}`).length === 2, 5000, 'notifications cleared');
  expect(cleared(`caredian_${event_id}`)).toEqual(['notify.mobile_app_daughter', 'notify.mobile_app_son']);
  const stored = [...h.gw.store.scan()].find((r) => r.kind === 'alert' && r.alert_id === event_id);
  expect(stored).toMatchObject({ action: 'acknowledged', by: 'Tom Kim', device_id: 'watch-3' });
});

test("who answered: the person's name, else the user's name, else 'Home Assistant user'; never a user id", async () => {
  const jiwoo = ha.users.find((u) => u.name === 'Jiwoo')!;
  const cases: [string, string, string][] = [
    ['OMW', ha.users.find((u) => u.name === 'Tom')!.id, 'Tom Kim (on the way)'],
    // No person for Jiwoo: the user list (config/auth/list, which the Supervisor's connection may read).
    ['ACK', jiwoo.id, 'Jiwoo'],
    ['ACK', 'ffffffffffffffffffffffffffffffff', 'Home Assistant user'],
  ];
  for (const [i, [kind, userId, name]] of cases.entries()) {
    const device = `who-${i}`;
    const { event_id } = await fall(device);
    await waitFor(() => ha.states.get(`binary_sensor.caredian_who_${i}_fall`)?.state === 'on', 10_000, 'alert open');
    ha.pressAction(`CAREDIAN_${kind}_${event_id}`, userId);
    await waitFor(() => ha.states.get(`binary_sensor.caredian_who_${i}_fall`)?.state === 'off', 5000, 'entity off');
    expect([name, ha.states.get(`binary_sensor.caredian_who_${i}_fall`)!.attributes.acknowledged_by]).toEqual([name, name]);
  }
});

test('acknowledge through the admin API', async () => {
  const { event_id } = await fall('watch-4');
  await waitFor(() => ha.states.get('binary_sensor.caredian_watch_4_fall')?.state === 'on', 10_000, 'alert open');
  const r = await fetch(`${h.adminUrl}/api/falls/${event_id}/ack`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  expect(((await r.json()) as { alert: { state: string; acknowledged_by: string } }).alert).toMatchObject({ state: 'acknowledged', acknowledged_by: 'admin' });
  await waitFor(() => ha.states.get('binary_sensor.caredian_watch_4_fall')?.state === 'off', 5000, 'entity off');
  // Acknowledged outside Home Assistant: the phones and the persistent notification are cleared all the same.
  await waitFor(() => cleared(`caredian_${event_id}`).length === 2 && ha.serviceCalls.some((c) => c.service === 'dismiss' && c.service_data.notification_id === `caredian_${event_id}`), 5000, 'cleared everywhere');
  expect((await fetch(`${h.adminUrl}/api/falls/nope/ack`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(404);
  const list = (await (await fetch(`${h.adminUrl}/api/falls`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { falls: { id: string }[] };
  expect(list.falls.some((f) => f.id === event_id)).toBe(true);
});

test('Home Assistant restarts: it forgets the states, the gateway publishes them again', async () => {
  expect(ha.states.size).toBeGreaterThan(0);
  await ha.restart();
  expect(ha.states.size).toBe(0);
  await waitFor(
    () => ha.states.get('binary_sensor.caredian_band_7_fall')?.state === 'on' && ha.states.has('binary_sensor.caredian_band_7_online') && ha.states.get('binary_sensor.caredian_watch_3_fall')?.state === 'off',
    20_000,
    're-publication of every entity',
  );
  expect(ha.states.get('sensor.caredian_band_7_battery')?.state).toBe('87');
});

test('a fall while Home Assistant is down is delivered when it is back; meanwhile /ready says it is unreachable', async () => {
  const wsAttempts = () => ha.supervisorRequests.filter((q) => q === 'WS /core/websocket').length;
  const before = wsAttempts();
  await ha.stop();
  await waitFor(() => (h.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state !== 'connected', 10_000, 'disconnect noticed');
  // The Supervisor is up and answers 502 while Core is down.
  expect((await fetch(`${ha.supervisorUrl}/core/api/`, { headers: { Authorization: `Bearer ${SUPERVISOR_TOKEN}` } })).status).toBe(502);
  await waitFor(() => wsAttempts() >= before + 2, 15_000, 'reconnection attempts answered 502');
  const ready = (await (await fetch(`${h.url}/ready`)).json()) as { status: string; warnings: string[]; checks: { home_assistant: { warning?: string } } };
  expect(ready.status).toBe('degraded');
  expect(ready.checks.home_assistant.warning).toMatch(/^Home Assistant unreachable: disconnected; retrying/);
  expect(ready.warnings).toContainEqual(expect.stringMatching(/^home_assistant: Home Assistant unreachable/));
  const { event_id } = await fall('band-9', { location: 'garden' });
  await new Promise((r) => setTimeout(r, 300));
  expect(h.gw.module(AlertService)!.status().outbox).toBeGreaterThanOrEqual(3);
  await ha.start();
  await waitFor(() => ha.firedEvents.some((e) => e.event_type === 'caredian_fall' && e.event_data.event_id === event_id), 30_000, 'delivery after the outage');
  await waitFor(() => ha.serviceCalls.filter((c) => (c.service_data as { data?: { tag?: string } }).data?.tag === `caredian_${event_id}`).length === 2, 10_000, 'notifications after the outage');
});

test('an unknown notify service is logged with the reason and retried; other targets still get the alert', async () => {
  const ha2 = new HaStandin();
  await ha2.start();
  ha2.missingServices.add('notify.mobile_app_gone');
  const g = await startGateway({ HA_BASE_URL: ha2.url, HA_TOKEN, HA_NOTIFY_MOBILE: 'notify.mobile_app_gone,notify.mobile_app_here' });
  try {
    await waitFor(() => ha2.connected > 0, 10_000, 'connect');
    const t = await g.token('events:fall:ingest');
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'x1', event: 'fall', prob: 0.8 }) });
    await waitFor(() => ha2.serviceCalls.some((c) => c.service === 'mobile_app_here'), 10_000, 'the working target');
    await waitFor(() => g.logs.text.includes('alert delivery failed; will retry'), 5000, 'the failure log line');
    expect(g.logs.text).toMatch(/Service notify\.mobile_app_gone not found/);
    // Everything else delivered; only the unknown service's notification waits for its retry.
    await waitFor(() => g.gw.module(AlertService)!.status().outbox === 1, 5000, 'only the failing delivery left');
  } finally {
    await g.close();
    await ha2.stop();
  }
});

test('auth_invalid: one clear log line, no crash loop, status says why', async () => {
  const ha3 = new HaStandin();
  await ha3.start();
  const g = await startGateway({ HA_BASE_URL: ha3.url, HA_TOKEN: 'wrong-token-xxxxxxxxxxxx' });
  try {
    await waitFor(() => (g.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'auth_invalid', 10_000, 'auth_invalid state');
    await new Promise((r) => setTimeout(r, 2000));
    expect(ha3.authFailures).toBe(1);
    expect(g.logs.lines.filter((l) => l.includes('auth_invalid')).length).toBe(1);
    expect(g.logs.text).not.toContain('wrong-token-xxxxxxxxxxxx');
    expect((await fetch(`${g.url}/health`)).status).toBe(200);
    const st = (await (await fetch(`${g.adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { checks: { home_assistant: { detail: string } } };
    expect(st.checks.home_assistant.detail).toMatch(/refused the token/);
  } finally {
    await g.close();
    await ha3.stop();
  }
});

test("a wrong SUPERVISOR_TOKEN: the Supervisor's auth_invalid, said once, status and /ready say why", async () => {
  const g = await startGateway({ SUPERVISOR_TOKEN: 'not-the-addon-token-xxxxxxxx', SUPERVISOR_URL: ha.supervisorUrl });
  try {
    await waitFor(() => (g.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'auth_invalid', 10_000, 'auth_invalid state');
    expect(ha.supervisorAuthFailures).toBe(1);
    expect(g.logs.lines.filter((l) => l.includes('auth_invalid')).length).toBe(1);
    expect(g.logs.text).not.toContain('not-the-addon-token');
    const ready = (await (await fetch(`${g.url}/ready`)).json()) as { status: string; checks: { home_assistant: { warning?: string } } };
    expect(ready.status).toBe('degraded');
    expect(ready.checks.home_assistant.warning).toBe("Home Assistant unreachable: the Supervisor refused the add-on's token (auth_invalid); restart the add-on");
  } finally {
    await g.close();
  }
});

test('a fall the model finds in streamed motion data alerts like a reported one, with source "model"', async () => {
  const { sisfallTrial } = await import('../support/sisfall.js');
  const t = sisfallTrial('F05_SA15_R01');
  const tok = await h.token('events:imu:ingest');
  const ids: string[] = [];
  for (let i = 0; i < t.acc.length; i += 50) {
    const r = await fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'stream-1', location: 'kitchen', rate_hz: 50, t0: 1763801000 + i / 50, acc: t.acc.slice(i, i + 50) }) });
    ids.push(...((await r.json()) as { falls: { id: string }[] }).falls.map((f) => f.id));
  }
  expect(ids).toHaveLength(1);
  const ev = await waitFor(() => ha.firedEvents.find((e) => e.event_type === 'caredian_fall' && (e.event_data as { event_id: string }).event_id === ids[0]), 10_000, 'caredian_fall for the model decision');
  expect(ev.event_data).toMatchObject({ device_id: 'stream-1', location: 'kitchen', source: 'model' });
  await waitFor(() => ha.states.get('binary_sensor.caredian_stream_1_fall')?.state === 'on', 5000, 'fall entity on');
}, 60_000);

test('model_only: a fall the device reports is stored but opens no alert', async () => {
  const g = await startGateway({ HA_BASE_URL: ha.url, HA_TOKEN, HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter', FALL_DECISION_MODE: 'model_only' });
  try {
    await waitFor(() => (g.gw.readiness.evaluate().checks.home_assistant as { state?: string }).state === 'connected', 10_000, 'connection');
    const tok = await g.token('events:fall:ingest');
    const r = await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'only-sensor', event: 'fall', prob: 0.99 }) });
    const { event_id } = (await r.json()) as { event_id: string };
    // A heartbeat after the fall: once its entity is published, the fall has been seen and passed over.
    const hb = await g.token('devices:write');
    await fetch(`${g.url}/devices/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${hb}` }, body: JSON.stringify({ device_id: 'only-sensor', battery: 50 }) });
    await waitFor(() => ha.states.has('sensor.caredian_only_sensor_battery'), 10_000, 'battery entity');
    expect(ha.firedEvents.some((e) => (e.event_data as { event_id?: string }).event_id === event_id)).toBe(false);
    expect(g.gw.module(AlertService)!.list().some((a) => a.id === event_id)).toBe(false);
  } finally {
    await g.close();
  }
}, 30_000);
