// Every wearable and sensor as a real Home Assistant device, through MQTT discovery (the way
// Zigbee2MQTT does it). Discovery configs and states are retained, so a restart of Home Assistant
// finds an open alert still `on` instead of a new `on` transition; discovery is sent again when
// Home Assistant says `online` on its status topic and after every reconnect to the broker. Fall
// events go through the alert service's durable outbox as an alert sink; the Acknowledge and
// test-alert buttons are inputs of the alert service (through the bus).
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { AlertNotice, AlertView } from '../domain/alerts.js';
import type { GatewayBus } from '../domain/bus-events.js';
import type { DeviceState } from '../domain/devices.js';
import { PermanentDeliveryError, type AlertSink, type SinkDelivery, type SinkStatus } from '../alerting/sink.js';
import type { MqttModule } from '../mqtt/mqtt-module.js';
import { Slugs } from '../ha/entity-ids.js';
import { deviceConfigs, deviceTopics, gatewayConfigs, gatewayTopics, type DeviceInfo, type DiscoveryTopics } from './discovery-configs.js';

const COALESCE_MS = 100;

export interface DiscoveryDeps {
  mqtt: MqttModule;
  bus: GatewayBus;
  log: Logger;
  prefix: string;
  base: string;
  devices: () => DeviceState[];
  alerts: () => AlertView[];
  /** The gateway's own state for its status entity. */
  gatewayState: () => { status: string; warnings: string[] };
  /** A device's name and area for Home Assistant (the `devices` option), if the user gave one. */
  describe?: (deviceId: string) => { name?: string; person?: string; location?: string; placement?: string } | undefined;
}

interface EventDelivery extends SinkDelivery {
  kind: 'event';
  device_id: string;
  payload: Record<string, unknown>;
}

export class HaDiscoveryModule implements GatewayModule {
  readonly name = 'ha_discovery';
  /** The fall event entity as an alert sink (it informs automations, not people). */
  readonly sink: AlertSink;
  private readonly t: DiscoveryTopics;
  private readonly slugs = new Slugs();
  /** Devices whose configs are on the broker, with the config payloads last sent. */
  private published = new Map<string, string>();
  /** Counts discovery rounds (each broker connection, each Home Assistant restart). */
  private round = 0;
  private chains = new Map<string, Promise<void>>();
  private pending = new Map<string, NodeJS.Timeout>();
  private gatewayTimer?: NodeJS.Timeout;
  private unsubs: (() => void)[] = [];
  private lastGatewayState = '';
  private availableListeners: (() => void)[] = [];

  constructor(private readonly d: DiscoveryDeps) {
    this.t = { prefix: d.prefix, base: d.base, availability: d.mqtt.availabilityTopic };
    const mqtt = d.mqtt;
    this.sink = {
      name: 'ha_discovery',
      reachesPeople: false,
      // Without a broker there is nothing to wait for: deliveries are refused (and none are planned).
      get available() {
        return mqtt.connected || !mqtt.configured;
      },
      plan: (n) => this.plan(n),
      deliver: (x) => this.deliver(x),
      status: () => this.sinkStatus(),
      onAvailable: (fn) => void this.availableListeners.push(fn),
    };
  }

  async start(): Promise<void> {
    const { mqtt, bus } = this.d;
    mqtt.onConnect(() => {
      // The broker may have lost its retained messages (a restart without persistence): send all again.
      this.round++;
      this.published.clear();
      void this.publishAll();
      for (const f of this.availableListeners) f();
    });
    mqtt.subscribe(`${this.d.prefix}/status`, (_t, p) => {
      if (p.toString() === 'online') {
        this.d.log.info('Home Assistant is online: sending discovery again');
        this.round++;
        this.published.clear();
        void this.publishAll();
      }
    });
    mqtt.subscribe(`${this.d.base}/+/acknowledge`, (topic) => this.onAcknowledge(topic.split('/').at(-2)!));
    mqtt.subscribe(`${this.d.base}/+/cancel`, (topic) => this.onCancel(topic.split('/').at(-2)!));
    mqtt.subscribe(gatewayTopics(this.t).testAlert, () => bus.emit('alert.test_request', { by: 'Home Assistant (test button)' }));
    this.unsubs.push(bus.on('alert.changed', (a) => this.soon(a.device_id)));
    for (const e of ['device.online', 'device.offline', 'device.seen'] as const) this.unsubs.push(bus.on(e, (s) => void this.onDeviceState(s, e)));
    this.unsubs.push(bus.on('device.removed', ({ device_id }) => void this.remove(device_id)));
    this.gatewayTimer = setInterval(() => void this.publishGatewayState(), 5000);
    this.gatewayTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.gatewayTimer);
    for (const t of this.pending.values()) clearTimeout(t);
    for (const u of this.unsubs) u();
  }

  status(): ModuleStatus {
    if (!this.d.mqtt.configured) return { ready: true, mode: 'off', detail: 'not used (no MQTT broker)' };
    return { ready: true, mode: 'mqtt', devices: this.published.size, detail: this.d.mqtt.connected ? `${this.published.size} devices in Home Assistant through MQTT discovery` : 'waiting for the MQTT broker' };
  }

  // --- AlertSink: the fall event entity, delivered through the durable outbox ---

  private plan(n: AlertNotice): SinkDelivery[] {
    if (!this.d.mqtt.configured || (n.alert.test && n.alert.device_id === 'gateway')) return [];
    const a = n.alert;
    const payload: Record<string, unknown> = { event_type: n.type, alert_id: a.id, alert_state: a.state, location: a.location, probability: a.probability, source: a.source, time: a.time };
    if (a.pending_until_ms !== undefined) payload.cancel_before = new Date(a.pending_until_ms).toISOString();
    if (a.kind === 'help') payload.kind = 'help';
    if (a.not_moving) payload.not_moving = true;
    if (a.cancelled_by_wearer) payload.cancelled_by_wearer = true;
    if (n.type === 'fall_escalated') payload.step = n.step;
    if (n.type === 'fall_acknowledged') payload.acknowledged_by = a.acknowledged_by;
    if (a.test) payload.test = true;
    // A late "fall detected" for an alert already answered would only confuse automations.
    return [{ kind: 'event', device_id: a.device_id, payload, dropOnAck: n.type !== 'fall_acknowledged' } satisfies EventDelivery];
  }

  private async deliver(raw: SinkDelivery): Promise<void> {
    const d = raw as EventDelivery;
    if (!this.d.mqtt.configured) throw new PermanentDeliveryError('no MQTT broker is configured any more');
    await this.publishDevice(d.device_id);
    const topics = deviceTopics(this.t, d.device_id);
    await this.d.mqtt.publish(topics.event, JSON.stringify(d.payload), { qos: 1 });
    // The wearer's device hears of its own pending fall (and of its end), so it can ask "Are you OK?".
    if (d.payload.event_type === 'fall_pending' || d.payload.event_type === 'fall_cancelled' || d.payload.event_type === 'fall_detected' || d.payload.event_type === 'fall_acknowledged') {
      await this.d.mqtt.publish(topics.alert, JSON.stringify({ id: d.payload.alert_id, state: d.payload.alert_state, cancel_before: d.payload.cancel_before ?? null }), { qos: 1 });
    }
  }

  private sinkStatus(): SinkStatus {
    return { reachable: this.d.mqtt.connected, detail: this.d.mqtt.connected ? 'connected to the MQTT broker' : 'MQTT broker not connected' };
  }

  // --- publishing ---

  private info(deviceId: string, s?: DeviceState): DeviceInfo {
    const p = this.d.describe?.(deviceId);
    return { device_id: deviceId, slug: this.slugs.of(deviceId), name: p?.name ?? deviceId, model: p?.placement ? `Fall sensor (${p.placement})` : undefined, fw: s?.fw, area: p?.location ?? s?.location };
  }

  private async publishAll(): Promise<void> {
    try {
      for (const c of gatewayConfigs(this.t)) await this.d.mqtt.publish(c.topic, JSON.stringify(c.payload), { retain: true });
      this.lastGatewayState = '';
      await this.publishGatewayState();
      const ids = new Set([...this.d.devices().map((s) => s.device_id), ...this.d.alerts().map((a) => a.device_id).filter((id) => id !== 'gateway')]);
      for (const id of ids) await this.publishDevice(id);
    } catch (err) {
      this.d.log.warn({ reason: (err as Error).message }, 'MQTT discovery not sent; sent again on the next connection');
    }
  }

  /** Sends the device's discovery configs if they are not on the broker yet (or changed). */
  private async ensureDevice(deviceId: string, s?: DeviceState): Promise<void> {
    const configs = deviceConfigs(this.t, this.info(deviceId, s ?? this.d.devices().find((x) => x.device_id === deviceId)));
    const key = JSON.stringify(configs);
    if (this.published.get(deviceId) === key) return;
    const round = this.round;
    for (const c of configs) await this.d.mqtt.publish(c.topic, JSON.stringify(c.payload), { retain: true });
    // A reconnect (or Home Assistant's restart) meanwhile: the configs sent before it may be gone
    // with the broker's retained messages, so this device is not marked sent and the round
    // started by the reconnect sends them all again (it queues behind this one, per device).
    if (round === this.round) this.published.set(deviceId, key);
  }

  /** One device's messages go out in order, one at a time (an event and a state change may race). */
  private publishDevice(deviceId: string, s?: DeviceState): Promise<void> {
    const next = (this.chains.get(deviceId) ?? Promise.resolve()).then(() => this.sendDevice(deviceId, s));
    this.chains.set(deviceId, next);
    void next.then(() => {
      if (this.chains.get(deviceId) === next) this.chains.delete(deviceId);
    });
    return next;
  }

  private async sendDevice(deviceId: string, s?: DeviceState): Promise<void> {
    if (!this.d.mqtt.connected || deviceId === 'gateway') return;
    try {
      const state = s ?? this.d.devices().find((x) => x.device_id === deviceId);
      await this.ensureDevice(deviceId, state);
      const alert = this.latestAlert(deviceId);
      const body = {
        fall: alert?.state === 'open' ? 'ON' : 'OFF',
        online: state?.online ? 'ON' : 'OFF',
        battery: state?.battery ?? null,
        probability: alert?.probability ?? null,
        // The fall entity's attributes: who and which device, then the alert (the blueprint's messages read them).
        alert: { person: this.d.describe?.(deviceId)?.person ?? null, device_name: this.d.describe?.(deviceId)?.name ?? deviceId, ...(alert ? { alert_id: alert.id, location: alert.location, time: alert.time, source: alert.source, falls: alert.falls, state: alert.state, escalation_step: alert.escalation_step, acknowledged_by: alert.acknowledged_by ?? null, acknowledged_at: alert.acknowledged_at ?? null, test: alert.test ?? false, not_moving: alert.not_moving ?? false, cancel_before: alert.pending_until_ms !== undefined ? new Date(alert.pending_until_ms).toISOString() : null } : {}) },
      };
      await this.d.mqtt.publish(deviceTopics(this.t, deviceId).state, JSON.stringify(body), { retain: true });
    } catch (err) {
      this.d.log.warn({ device_id: deviceId, reason: (err as Error).message }, 'could not publish a device state over MQTT; sent again on the next change or connection');
    }
  }

  private onDeviceState(s: DeviceState, e: 'device.online' | 'device.offline' | 'device.seen'): void {
    // Every event counts as "seen": only a change of what the entities show is worth a message.
    if (e === 'device.seen' && this.published.has(s.device_id) && s.battery === undefined) return;
    this.soon(s.device_id);
  }

  /** Coalesces a burst (a new device is online, then seen with its firmware) into one update. */
  private soon(deviceId: string): void {
    if (this.pending.has(deviceId)) return;
    const t = setTimeout(() => {
      this.pending.delete(deviceId);
      void this.publishDevice(deviceId);
    }, COALESCE_MS);
    t.unref();
    this.pending.set(deviceId, t);
  }

  private async publishGatewayState(): Promise<void> {
    if (!this.d.mqtt.connected) return;
    const g = this.d.gatewayState();
    const body = JSON.stringify({ status: g.status, warnings: g.warnings, open_alerts: this.d.alerts().filter((a) => a.state === 'open').length });
    if (body === this.lastGatewayState) return;
    await this.d.mqtt.publish(gatewayTopics(this.t).state, body, { retain: true }).catch(() => {});
    this.lastGatewayState = body;
  }

  /** The device's open alert if it has one, else its latest. */
  private latestAlert(deviceId: string): AlertView | undefined {
    const mine = this.d.alerts().filter((a) => a.device_id === deviceId);
    return mine.find((a) => a.state === 'open') ?? mine[0];
  }

  private onAcknowledge(deviceId: string): void {
    const open = this.d.alerts().filter((a) => a.device_id === deviceId && a.state === 'open');
    if (!open.length) return void this.d.log.info({ device_id: deviceId }, 'Acknowledge pressed in Home Assistant, but the device has no open alert');
    for (const a of open) this.d.bus.emit('alert.ack_request', { id: a.id, by: 'Home Assistant (Acknowledge button)' });
  }

  /** "I'm OK" from the wearer (the device over MQTT, or the Home Assistant button). */
  private onCancel(deviceId: string): void {
    const active = this.d.alerts().filter((a) => a.device_id === deviceId && (a.state === 'pending' || a.state === 'open'));
    if (!active.length) return void this.d.log.info({ device_id: deviceId }, "I'm OK pressed, but the device has no pending or open alert");
    for (const a of active) this.d.bus.emit('alert.cancel_request', { id: a.id, by: `the wearer (${deviceId}, over MQTT)` });
  }

  /** A device removed from the gateway leaves Home Assistant too (empty retained configs). */
  private async remove(deviceId: string): Promise<void> {
    try {
      for (const c of deviceConfigs(this.t, this.info(deviceId))) await this.d.mqtt.publish(c.topic, '', { retain: true });
      await this.d.mqtt.publish(deviceTopics(this.t, deviceId).state, '', { retain: true });
      this.published.delete(deviceId);
    } catch (err) {
      this.d.log.warn({ device_id: deviceId, reason: (err as Error).message }, 'could not remove a device from Home Assistant');
    }
  }
}
