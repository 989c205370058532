// Escalation timing on a controlled clock, and open alerts (with their timers) surviving a restart.
import { AlertService, type AlertSettings } from '../../src/alerting/alert-service.js';
import { HaClient } from '../../src/ha/ha-client.js';
import { HomeAssistantModule } from '../../src/ha/ha-module.js';
import { testConfig } from '../support/harness.js';
import { GatewayBus } from '../../src/domain/bus-events.js';
import { EventLog } from '../../src/events/event-log.js';
import { EventStore } from '../../src/events/event-store.js';
import { DeviceRegistry } from '../../src/devices/registry.js';
import { createLogger } from '../../src/core/logger.js';
import { HA_TOKEN, HaStandin } from '../support/ha-standin.js';
import { LogSink, tempDir, waitFor } from '../support/harness.js';

const settings: AlertSettings = {
  cooldownSec: 300,
  escalateAfterSec: 300,
  escalationTiers: [['notify.mobile_app_neighbour'], ['notify.mobile_app_son', 'notify.mobile_app_nurse']],
  escalationMaxSteps: 3,
  confirmWindowSec: 0,
};

async function setup(dir: string, ha: HaStandin, clock: { now: number }) {
  const log = createLogger({ level: 'warn', json: true }, new LogSink());
  const bus = new GatewayBus(log);
  const store = new EventStore(new EventLog({ dir: `${dir}/eventlog`, maxBytes: 1 << 24 }), bus, `${dir}/eventlog`);
  await store.open();
  const devices = new DeviceRegistry(dir, bus, log, 600_000);
  const client = new HaClient({ wsUrl: `${ha.url.replace('http', 'ws')}/api/websocket`, restBase: `${ha.url}/api`, token: HA_TOKEN }, log, { requestTimeoutMs: 5000 });
  // The same tiers as `settings`, so the sink knows which phones each step reached.
  const config = testConfig({ HA_NOTIFY_MOBILE: 'notify.mobile_app_daughter', ESCALATION_TARGETS: JSON.stringify(settings.escalationTiers.map((t) => t.join(','))) }, dir);
  expect(AlertService.settings(config).escalationTiers).toEqual(settings.escalationTiers);
  const haModule = new HomeAssistantModule(client, { config, log, bus, devices: () => devices.list() });
  const alerts = new AlertService(dir, bus, store, [haModule.sink], settings, log, () => clock.now);
  await devices.start();
  await haModule.start();
  await alerts.start();
  await waitFor(() => client.ready, 10_000, 'connected');
  const tick = () => (alerts as unknown as { tick(): void }).tick();
  const stop = async () => {
    await alerts.stop();
    await haModule.stop();
    await devices.stop();
    await store.close();
  };
  return { alerts, store, tick, stop };
}

const notified = (ha: HaStandin) => ha.serviceCalls.filter((c) => c.domain === 'notify' && c.service_data.message !== 'clear_notification').map((c) => c.service);
const cleared = (ha: HaStandin, id: string) => ha.serviceCalls.filter((c) => c.service_data.message === 'clear_notification' && (c.service_data.data as { tag: string }).tag === `caredian_${id}`).map((c) => c.service).sort();

test('nobody answers: tier after tier every ESCALATION_AFTER_SEC, up to the limit; an acknowledgement stops it', async () => {
  const ha = new HaStandin();
  await ha.start();
  const clock = { now: 1_800_000_000_000 };
  const { alerts, store, tick, stop } = await setup(tempDir(), ha, clock);
  try {
    const { event } = await store.ingest({ kind: 'fall', device_id: 'band-1', location: 'bedroom', event: 'fall', prob: 0.9, event_id: 'f-1', source: 'sensor', ts: clock.now / 1000 });
    await waitFor(() => notified(ha).length === 1, 5000, 'first notification');
    clock.now += 299_000;
    tick();
    await new Promise((r) => setTimeout(r, 100));
    expect(notified(ha)).toEqual(['mobile_app_daughter']);
    clock.now += 2_000;
    tick();
    await waitFor(() => notified(ha).length === 2, 5000, 'step 1');
    expect(notified(ha)).toEqual(['mobile_app_daughter', 'mobile_app_neighbour']);
    // The tier's phones first, then the event.
    const esc = await waitFor(() => ha.firedEvents.find((e) => e.event_type === 'caredian_fall_escalated'), 5000, 'escalation event');
    expect(esc.event_data).toMatchObject({ event_id: 'f-1', step: 1, targets: ['notify.mobile_app_neighbour'] });
    const second = ha.serviceCalls.filter((c) => c.domain === 'notify')[1]!.service_data as { title: string };
    expect(second.title).toBe('Fall detected: bedroom — no one has answered yet');
    clock.now += 300_000;
    tick();
    await waitFor(() => notified(ha).length === 4, 5000, 'step 2');
    clock.now += 300_000;
    tick();
    await waitFor(() => notified(ha).length === 6, 5000, 'step 3 repeats the last tier');
    clock.now += 3_600_000;
    tick();
    await new Promise((r) => setTimeout(r, 200));
    expect(notified(ha)).toHaveLength(6);
    expect(alerts.list()[0]).toMatchObject({ id: event.kind === 'fall' ? event.event_id : '', escalation_step: 3, state: 'open' });
    const stored = [...store.scan()].filter((r) => r.kind === 'alert');
    expect(stored.map((r) => r.kind === 'alert' && r.step)).toEqual([1, 2, 3]);

    // A second alert, acknowledged before its time: no escalation.
    await store.ingest({ kind: 'fall', device_id: 'band-2', location: 'hall', event: 'fall', prob: 0.9, event_id: 'f-2', source: 'sensor', ts: clock.now / 1000 });
    await waitFor(() => notified(ha).length === 7, 5000, 'f-2 notification');
    await alerts.acknowledge('f-2', 'daughter');
    clock.now += 301_000;
    tick();
    await new Promise((r) => setTimeout(r, 200));
    expect(notified(ha)).toHaveLength(7);
    // Only the first phone was told about f-2, so only it is cleared.
    await waitFor(() => cleared(ha, 'f-2').length === 1, 5000, 'f-2 cleared');
    expect(cleared(ha, 'f-2')).toEqual(['mobile_app_daughter']);

    // f-1 reached every tier: acknowledging it clears the notification on every phone told.
    await alerts.acknowledge('f-1', 'son');
    await waitFor(() => cleared(ha, 'f-1').length === 4, 5000, 'f-1 cleared on every phone');
    expect(cleared(ha, 'f-1')).toEqual(['mobile_app_daughter', 'mobile_app_neighbour', 'mobile_app_nurse', 'mobile_app_son']);
  } finally {
    await stop();
    await ha.stop();
  }
});

test('after a gateway restart an open alert resumes with its escalation timer', async () => {
  const ha = new HaStandin();
  await ha.start();
  const dir = tempDir();
  const clock = { now: 1_800_000_000_000 };
  let s = await setup(dir, ha, clock);
  await s.store.ingest({ kind: 'fall', device_id: 'band-5', location: 'kitchen', event: 'fall', prob: 0.8, event_id: 'f-5', source: 'sensor', ts: clock.now / 1000 });
  await waitFor(() => notified(ha).length === 1, 5000, 'first notification');
  await s.stop();
  clock.now += 400_000;
  s = await setup(dir, ha, clock);
  try {
    expect(s.alerts.list()).toEqual([expect.objectContaining({ id: 'f-5', state: 'open', escalation_step: 0 })]);
    s.tick();
    await waitFor(() => notified(ha).includes('mobile_app_neighbour'), 5000, 'escalation after restart');
    // The entity is there again for the restarted gateway too.
    await waitFor(() => ha.states.get('binary_sensor.caredian_band_5_fall')?.state === 'on', 5000, 'entity');
  } finally {
    await s.stop();
    await ha.stop();
  }
});

test('an acknowledgement arriving while notifications are being delivered still goes out in full', async () => {
  const ha = new HaStandin();
  await ha.start();
  const clock = { now: 1_800_000_000_000 };
  const { alerts, store, stop } = await setup(tempDir(), ha, clock);
  try {
    ha.callDelayMs = 400;
    await store.ingest({ kind: 'fall', device_id: 'band-8', location: 'hall', event: 'fall', prob: 0.9, event_id: 'f-8', source: 'sensor', ts: clock.now / 1000 });
    await waitFor(() => ha.serviceCalls.some((c) => c.domain === 'notify'), 5000, 'notification in flight');
    await alerts.acknowledge('f-8', 'daughter');
    ha.callDelayMs = 0;
    await waitFor(() => ha.firedEvents.some((e) => e.event_type === 'caredian_fall_acknowledged') && ha.serviceCalls.some((c) => c.service === 'dismiss'), 8000, 'acknowledgement event and dismissal');
    await waitFor(() => alerts.status().outbox === 0, 5000, 'empty outbox');
  } finally {
    await stop();
    await ha.stop();
  }
});
