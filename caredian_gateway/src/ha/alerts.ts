// Fall alerts: from a stored fall to help. Every alert and every message still owed to Home
// Assistant lives in a durable outbox (DATA_DIR/alerts.json), so an alert raised while Home
// Assistant is down or restarting is delivered when it is back, and open alerts — with their
// escalation timers — survive a gateway restart. Entities are re-published on every (re)connect.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HassEvent } from 'home-assistant-js-websocket';
import type { EventBus } from '../core/event-bus.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import { writeFileAtomic } from '../core/files.js';
import type { DeviceRegistry, DeviceState } from '../devices/registry.js';
import type { EventStore } from '../events/event-store.js';
import { isDecided, type FallRecord, type StoredEvent } from '../events/types.js';
import type { HaClient } from './ha-client.js';
import { Slugs } from './entity-ids.js';

export interface AlertSettings {
  notifyTargets: string[];
  persist: string;
  critical: boolean;
  cooldownSec: number;
  escalateAfterSec: number;
  escalationTiers: string[][];
  escalationMaxSteps: number;
}

type Delivery =
  | { kind: 'event'; eventType: string; data: Record<string, unknown> }
  | { kind: 'notify'; target: string; step: number }
  | { kind: 'persist' }
  | { kind: 'dismiss' };

interface Outgoing {
  d: Delivery;
  attempts: number;
  nextTryMs: number;
  lastError?: string;
}

export interface Alert {
  id: string;
  device_id: string;
  location: string;
  probability: number;
  source: string;
  time: string;
  falls: number;
  state: 'open' | 'acknowledged';
  acknowledged_by?: string;
  acknowledged_at?: string;
  escalation_step: number;
  next_escalation_ms?: number;
  created_ms: number;
  outbox: Outgoing[];
}

const ACK = 'CAREDIAN_ACK_';
const ON_MY_WAY = 'CAREDIAN_OMW_';
const KEEP_CLOSED_MS = 7 * 86400_000;

export class AlertService implements GatewayModule {
  readonly name = 'alerts';
  private alerts = new Map<string, Alert>();
  private readonly path: string;
  private readonly slugs = new Slugs();
  private timer?: NodeJS.Timeout;
  private draining = false;
  private unsubs: (() => void)[] = [];
  private lastBattery = new Map<string, number>();

  constructor(
    dataDir: string,
    private readonly ha: HaClient | undefined,
    private readonly bus: EventBus,
    private readonly store: EventStore,
    private readonly devices: DeviceRegistry,
    private readonly s: AlertSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.path = join(dataDir, 'alerts.json');
  }

  async start(): Promise<void> {
    if (existsSync(this.path)) for (const a of JSON.parse(readFileSync(this.path, 'utf8')) as Alert[]) this.alerts.set(a.id, a);
    this.unsubs.push(this.bus.on('event.stored', (e) => this.onStored(e)));
    for (const t of ['device.online', 'device.offline'] as const) this.unsubs.push(this.bus.on(t, (d) => void this.publishDevice(d)));
    // Per-event updates matter only when the battery level changed.
    this.unsubs.push(this.bus.on('device.seen', (d) => {
      if (d.battery !== undefined && this.lastBattery.get(d.device_id) !== d.battery) void this.publishDevice(d);
    }));
    if (this.ha) {
      this.ha.on('ready', this.onReady);
      this.ha.subscribe('mobile_app_notification_action', (e) => this.onAction(e));
    }
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.ha?.off('ready', this.onReady);
    for (const u of this.unsubs) u();
    this.save();
  }

  status(): ModuleStatus {
    const open = [...this.alerts.values()].filter((a) => a.state === 'open').length;
    const owed = [...this.alerts.values()].reduce((n, a) => n + a.outbox.length, 0);
    return { ready: true, detail: `${open} open alerts, ${owed} messages waiting for Home Assistant`, open, outbox: owed };
  }

  list(): Omit<Alert, 'outbox'>[] {
    return [...this.alerts.values()].map(({ outbox: _o, ...a }) => a).sort((a, b) => b.created_ms - a.created_ms);
  }

  /** Acknowledge from the admin API or a notification button. False if no such alert. */
  async acknowledge(id: string, by: string): Promise<Alert | undefined> {
    const a = this.alerts.get(id);
    if (!a) return undefined;
    if (a.state === 'acknowledged') return a;
    a.state = 'acknowledged';
    a.acknowledged_by = by;
    a.acknowledged_at = new Date(this.now()).toISOString();
    a.next_escalation_ms = undefined;
    // Notifications nobody received yet are pointless now; the acknowledgement still has to go out.
    a.outbox = a.outbox.filter((o) => o.d.kind !== 'notify' && o.d.kind !== 'persist');
    this.queue(a, { kind: 'event', eventType: 'caredian_fall_acknowledged', data: { ...this.eventData(a), acknowledged_by: by, acknowledged_at: a.acknowledged_at } });
    if (this.s.persist !== 'off') this.queue(a, { kind: 'dismiss' });
    this.save();
    this.log.info({ alert: id, device_id: a.device_id, by }, 'fall alert acknowledged');
    await this.store.ingest({ kind: 'alert', device_id: a.device_id, alert_id: id, action: 'acknowledged', by, ts: this.now() / 1000 }).catch((err: unknown) => this.log.error({ err }, 'could not store the acknowledgement'));
    void this.publishFall(a.device_id);
    void this.drain();
    return a;
  }

  private onReady = () => {
    void this.publishAll().then(() => this.drain());
  };

  private onStored(e: StoredEvent): void {
    if (e.kind !== 'fall' || e.event !== 'fall') return;
    const now = this.now();
    const time = new Date(Number(BigInt(e.ts_ns) / 1_000_000n)).toISOString();
    const open = [...this.alerts.values()].find((a) => a.device_id === e.device_id && a.state === 'open');
    // The seed's should_alert: inside the cooldown a repeat updates the open alert instead of alerting again.
    if (open && now - open.created_ms < this.s.cooldownSec * 1000) return this.onRepeat(open, e, time);
    // A report the decision policy did not confirm (FALL_DECISION_MODE, the cooldown) never opens an alert.
    if (isDecided(e)) this.onFall(e, now, time);
  }

  private onRepeat(open: Alert, e: StoredEvent & FallRecord, time: string): void {
    open.falls++;
    open.probability = Math.max(open.probability, e.prob);
    open.time = time;
    open.location = e.location;
    this.save();
    void this.publishFall(e.device_id);
  }

  private onFall(e: StoredEvent & FallRecord, now: number, time: string): void {
    const a: Alert = { id: e.event_id, device_id: e.device_id, location: e.location, probability: e.prob, source: e.source, time, falls: 1, state: 'open', escalation_step: 0, created_ms: now, outbox: [] };
    if (this.s.escalationTiers.length && this.s.escalationMaxSteps > 0) a.next_escalation_ms = now + this.s.escalateAfterSec * 1000;
    this.alerts.set(a.id, a);
    this.queue(a, { kind: 'event', eventType: 'caredian_fall', data: this.eventData(a) });
    for (const target of this.s.notifyTargets) this.queue(a, { kind: 'notify', target, step: 0 });
    if (this.s.persist !== 'off') this.queue(a, { kind: 'persist' });
    this.save();
    this.log.warn({ alert: a.id, device_id: a.device_id, location: a.location, probability: a.probability }, 'FALL: alerting caregivers');
    void this.publishFall(a.device_id);
    void this.drain();
  }

  private onAction(e: HassEvent): void {
    const action = String((e.data as { action?: unknown }).action ?? '');
    const by = (e.context as { user_id?: string | null } | undefined)?.user_id ?? 'mobile_app';
    for (const prefix of [ACK, ON_MY_WAY]) {
      if (!action.startsWith(prefix)) continue;
      const id = action.slice(prefix.length);
      void this.acknowledge(id, prefix === ON_MY_WAY ? `${by} (on the way)` : by);
    }
  }

  private tick(): void {
    const now = this.now();
    let changed = false;
    for (const a of this.alerts.values()) {
      if (a.state === 'open' && a.next_escalation_ms !== undefined && now >= a.next_escalation_ms) {
        a.escalation_step++;
        const tier = this.s.escalationTiers[Math.min(a.escalation_step - 1, this.s.escalationTiers.length - 1)] ?? [];
        for (const target of tier) this.queue(a, { kind: 'notify', target, step: a.escalation_step });
        this.queue(a, { kind: 'event', eventType: 'caredian_fall_escalated', data: { ...this.eventData(a), step: a.escalation_step, targets: tier } });
        a.next_escalation_ms = a.escalation_step < this.s.escalationMaxSteps ? now + this.s.escalateAfterSec * 1000 : undefined;
        this.log.warn({ alert: a.id, device_id: a.device_id, step: a.escalation_step, targets: tier }, 'fall not acknowledged: escalating');
        void this.store.ingest({ kind: 'alert', device_id: a.device_id, alert_id: a.id, action: 'escalated', step: a.escalation_step, ts: now / 1000 }).catch((err: unknown) => this.log.error({ err }, 'could not store the escalation'));
        changed = true;
      }
      if (a.state === 'acknowledged' && !a.outbox.length && now - a.created_ms > KEEP_CLOSED_MS) {
        this.alerts.delete(a.id);
        changed = true;
      }
    }
    if (changed) this.save();
    if ([...this.alerts.values()].some((a) => a.outbox.some((o) => o.nextTryMs <= now))) void this.drain();
  }

  private queue(a: Alert, d: Delivery): void {
    a.outbox.push({ d, attempts: 0, nextTryMs: 0 });
  }

  /** Delivers what is owed, oldest alert first; a failing call is retried with backoff and blocks nothing else. */
  async drain(): Promise<void> {
    if (this.draining || !this.ha?.ready) return;
    this.draining = true;
    try {
      for (const a of [...this.alerts.values()].sort((x, y) => x.created_ms - y.created_ms)) {
        for (const o of [...a.outbox]) {
          if (o.nextTryMs > this.now() || !this.ha.ready) continue;
          try {
            await this.deliver(a, o.d);
            // acknowledge() may have rebuilt the outbox meanwhile: remove this entry only if it is still there.
            const i = a.outbox.indexOf(o);
            if (i >= 0) a.outbox.splice(i, 1);
          } catch (err) {
            o.attempts++;
            o.lastError = (err as Error).message;
            o.nextTryMs = this.now() + Math.min(300_000, 2000 * 2 ** Math.min(o.attempts, 8));
            this.log.error({ alert: a.id, delivery: o.d.kind, target: 'target' in o.d ? o.d.target : undefined, attempts: o.attempts, reason: o.lastError }, 'Home Assistant call failed; will retry');
          }
          this.save();
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async deliver(a: Alert, d: Delivery): Promise<void> {
    const ha = this.ha!;
    switch (d.kind) {
      case 'event':
        return ha.fireEvent(d.eventType, d.data);
      case 'notify': {
        const [domain, service] = splitService(d.target);
        return ha.callService(domain, service, this.notification(a, d.step));
      }
      case 'persist': {
        const [domain, service] = splitService(this.s.persist === 'notify.persistent_notification' ? 'persistent_notification.create' : this.s.persist);
        return ha.callService(domain, service, { title: this.title(a), message: this.message(a), notification_id: `caredian_${a.id}` });
      }
      case 'dismiss':
        return ha.callService('persistent_notification', 'dismiss', { notification_id: `caredian_${a.id}` });
    }
  }

  private title(a: Alert): string {
    return `Fall detected: ${a.location}`;
  }

  private message(a: Alert): string {
    const at = new Date(a.time).toLocaleString('en-GB', { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' });
    return `${a.device_id} detected a fall in ${a.location} at ${at} (confidence ${Math.round(a.probability * 100)}%).`;
  }

  private notification(a: Alert, step: number): Record<string, unknown> {
    const data: Record<string, unknown> = {
      tag: `caredian_${a.id}`,
      actions: [
        { action: `${ACK}${a.id}`, title: 'Acknowledge' },
        { action: `${ON_MY_WAY}${a.id}`, title: "I'm on my way" },
      ],
    };
    if (this.s.critical) {
      // iOS: critical alert (sounds on silent); Android: high priority on the alarm stream, no expiry.
      data.push = { sound: { name: 'default', critical: 1, volume: 1.0 }, 'interruption-level': 'critical' };
      data.priority = 'high';
      data.ttl = 0;
      data.channel = 'alarm_stream';
    }
    return { title: step ? `${this.title(a)} — no one has answered yet` : this.title(a), message: this.message(a), data };
  }

  private eventData(a: Alert): Record<string, unknown> {
    return { device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, event_id: a.id, time: a.time };
  }

  entityIds(deviceId: string): { fall: string; online: string; battery: string } {
    const slug = this.slugs.of(deviceId);
    return { fall: `binary_sensor.caredian_${slug}_fall`, online: `binary_sensor.caredian_${slug}_online`, battery: `sensor.caredian_${slug}_battery` };
  }

  private async publishAll(): Promise<void> {
    const devices = new Map(this.devices.list().map((d) => [d.device_id, d]));
    const ids = new Set([...devices.keys(), ...[...this.alerts.values()].map((a) => a.device_id)]);
    for (const id of ids) {
      const d = devices.get(id);
      if (d) await this.publishDevice(d);
      await this.publishFall(id);
    }
  }

  private async publishFall(deviceId: string): Promise<void> {
    if (!this.ha?.ready) return;
    const latest = [...this.alerts.values()].filter((a) => a.device_id === deviceId).sort((x, y) => y.created_ms - x.created_ms)[0];
    const attrs: Record<string, unknown> = { device_class: 'safety', friendly_name: `${deviceId} fall`, icon: 'mdi:human-handsdown', device_id: deviceId };
    if (latest) Object.assign(attrs, { location: latest.location, probability: latest.probability, source: latest.source, event_id: latest.id, time: latest.time, falls: latest.falls, acknowledged: latest.state === 'acknowledged', acknowledged_by: latest.acknowledged_by ?? null, acknowledged_at: latest.acknowledged_at ?? null, escalation_step: latest.escalation_step });
    await this.setState(this.entityIds(deviceId).fall, latest?.state === 'open' ? 'on' : 'off', attrs);
  }

  private async publishDevice(d: DeviceState): Promise<void> {
    if (!this.ha?.ready) return;
    const ids = this.entityIds(d.device_id);
    await this.setState(ids.online, d.online ? 'on' : 'off', { device_class: 'connectivity', friendly_name: `${d.device_id} online`, device_id: d.device_id, last_seen: d.last_seen, location: d.location ?? null });
    if (d.battery !== undefined) this.lastBattery.set(d.device_id, d.battery);
    if (d.battery !== undefined) await this.setState(ids.battery, String(d.battery), { device_class: 'battery', unit_of_measurement: '%', state_class: 'measurement', friendly_name: `${d.device_id} battery`, device_id: d.device_id });
  }

  private async setState(entityId: string, state: string, attrs: Record<string, unknown>): Promise<void> {
    try {
      await this.ha!.setState(entityId, state, attrs);
    } catch (err) {
      this.log.warn({ entity_id: entityId, reason: (err as Error).message }, 'could not set a Home Assistant entity; it is set again on the next change or reconnect');
    }
  }

  private save(): void {
    writeFileAtomic(this.path, JSON.stringify([...this.alerts.values()]), 0o600);
  }
}

function splitService(s: string): [string, string] {
  const i = s.indexOf('.');
  return i < 0 ? ['notify', s] : [s.slice(0, i), s.slice(i + 1)];
}
