// Home Assistant entities per device through the REST states API: fall (on while an alert is
// open), online and battery. Published on every change and again on every (re)connect.
import type { DeviceConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { AlertView } from '../domain/alerts.js';
import type { GatewayBus } from '../domain/bus-events.js';
import type { DeviceState } from '../domain/devices.js';
import { describeDevice } from '../domain/people.js';
import type { HaClient } from './ha-client.js';
import { Slugs } from './entity-ids.js';

export class HaEntities {
  private readonly slugs = new Slugs();
  private latest = new Map<string, AlertView>();
  private lastBattery = new Map<string, number>();
  private unsubs: (() => void)[] = [];

  constructor(
    private readonly ha: HaClient,
    private readonly bus: GatewayBus,
    private readonly devices: () => DeviceState[],
    private readonly log: Logger,
    private readonly people: readonly DeviceConfig[] = [],
  ) {}

  start(): void {
    this.unsubs.push(
      this.bus.on('alert.changed', (a) => {
        const prev = this.latest.get(a.device_id);
        if (!prev || prev.created_ms <= a.created_ms) this.latest.set(a.device_id, a);
        void this.publishFall(a.device_id);
      }),
    );
    for (const t of ['device.online', 'device.offline'] as const) this.unsubs.push(this.bus.on(t, (d) => void this.publishDevice(d)));
    // Per-event updates matter only when the battery level changed.
    this.unsubs.push(
      this.bus.on('device.seen', (d) => {
        if (d.battery !== undefined && this.lastBattery.get(d.device_id) !== d.battery) void this.publishDevice(d);
      }),
    );
    this.ha.on('ready', this.onReady);
  }

  stop(): void {
    this.ha.off('ready', this.onReady);
    for (const u of this.unsubs) u();
  }


  entityIds(deviceId: string): { fall: string; online: string; battery: string } {
    const slug = this.slugs.of(deviceId);
    return { fall: `binary_sensor.caredian_${slug}_fall`, online: `binary_sensor.caredian_${slug}_online`, battery: `sensor.caredian_${slug}_battery` };
  }

  /** "Grandma Kim fall (Wrist band)", or "band-7 fall" for a device nobody is named for; and the people attributes. */
  private naming(deviceId: string, what: string): { friendly_name: string; attrs: Record<string, unknown> } {
    const d = describeDevice(this.people, deviceId);
    const friendly_name = d.person ? `${d.person} ${what}${d.name !== deviceId ? ` (${d.name})` : ''}` : `${d.name} ${what}`;
    const attrs = { ...(d.person ? { person: d.person } : {}), ...(d.name !== deviceId ? { device_name: d.name } : {}), ...(d.placement ? { placement: d.placement } : {}) };
    return { friendly_name, attrs };
  }

  private onReady = () => {
    void this.publishAll();
  };

  private async publishAll(): Promise<void> {
    const devices = new Map(this.devices().map((d) => [d.device_id, d]));
    for (const id of new Set([...devices.keys(), ...this.latest.keys()])) {
      const d = devices.get(id);
      if (d) await this.publishDevice(d);
      await this.publishFall(id);
    }
  }

  private async publishFall(deviceId: string): Promise<void> {
    if (!this.ha.ready) return;
    const latest = this.latest.get(deviceId);
    const n = this.naming(deviceId, 'fall');
    const attrs: Record<string, unknown> = { device_class: 'safety', friendly_name: n.friendly_name, icon: 'mdi:human-handsdown', device_id: deviceId, ...n.attrs };
    if (latest) Object.assign(attrs, { location: latest.location, probability: latest.probability, source: latest.source, event_id: latest.id, time: latest.time, falls: latest.falls, acknowledged: latest.state === 'acknowledged', acknowledged_by: latest.acknowledged_by ?? null, acknowledged_at: latest.acknowledged_at ?? null, escalation_step: latest.escalation_step });
    await this.setState(this.entityIds(deviceId).fall, latest?.state === 'open' ? 'on' : 'off', attrs);
  }

  private async publishDevice(d: DeviceState): Promise<void> {
    if (!this.ha.ready) return;
    const ids = this.entityIds(d.device_id);
    const online = this.naming(d.device_id, 'online');
    await this.setState(ids.online, d.online ? 'on' : 'off', { device_class: 'connectivity', friendly_name: online.friendly_name, device_id: d.device_id, last_seen: d.last_seen, location: d.location ?? null, ...online.attrs });
    if (d.battery !== undefined) this.lastBattery.set(d.device_id, d.battery);
    if (d.battery !== undefined) {
      const battery = this.naming(d.device_id, 'battery');
      await this.setState(ids.battery, String(d.battery), { device_class: 'battery', unit_of_measurement: '%', state_class: 'measurement', friendly_name: battery.friendly_name, device_id: d.device_id, ...battery.attrs });
    }
  }

  private async setState(entityId: string, state: string, attrs: Record<string, unknown>): Promise<void> {
    try {
      await this.ha.setState(entityId, state, attrs);
    } catch (err) {
      this.log.warn({ entity_id: entityId, reason: (err as Error).message }, 'could not set a Home Assistant entity; it is set again on the next change or reconnect');
    }
  }
}
