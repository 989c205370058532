// Alerts through Home Assistant: `caredian_fall*` events for automations, actionable (optionally
// critical) phone notifications per target, and a persistent notification. An acknowledgement,
// wherever it came from, clears the notification on every phone that got it and dismisses the
// persistent notification.
import type { DeviceConfig } from '../config/schema.js';
import { isAlerted, type AlertNotice, type AlertView } from '../domain/alerts.js';
import { describeDevice, fallLocation, fallSentence, inPlace, localTime, type DeviceDescription } from '../domain/people.js';
import type { AlertSink, SinkDelivery, SinkStatus } from '../alerting/sink.js';
import type { HaClient } from './ha-client.js';

export const ACK_ACTION = 'CAREDIAN_ACK_';
export const ON_MY_WAY_ACTION = 'CAREDIAN_OMW_';

export interface HaAlertSettings {
  notifyTargets: string[];
  /** persistent_notification.create (or the seed's notify.persistent_notification), or 'off'. */
  persist: string;
  critical: boolean;
  /** Notify targets per escalation step, as the alert service uses them (to know who was told). */
  escalationTiers?: string[][];
  devices?: readonly DeviceConfig[];
  locationDefault?: string;
}

type Delivery =
  | { kind: 'event'; eventType: string; data: Record<string, unknown> }
  | { kind: 'notify'; target: string; step: number; dropOnAck: true }
  | { kind: 'persist'; dropOnAck: true }
  | { kind: 'clear'; target: string }
  | { kind: 'dismiss' };

const EVENT_TYPES = { fall_detected: 'caredian_fall', fall_escalated: 'caredian_fall_escalated', fall_acknowledged: 'caredian_fall_acknowledged', fall_pending: 'caredian_fall_pending', fall_cancelled: 'caredian_fall_cancelled' } as const;

export class HaAlertSink implements AlertSink {
  readonly name = 'home_assistant';

  constructor(
    private readonly ha: HaClient,
    private readonly s: HaAlertSettings,
  ) {}

  get available(): boolean {
    return this.ha.ready;
  }

  onAvailable(fn: () => void): void {
    this.ha.on('ready', fn);
  }

  status(): SinkStatus {
    return { reachable: this.ha.ready, detail: this.ha.status().detail ?? this.ha.state };
  }

  plan(n: AlertNotice): SinkDelivery[] {
    const a = n.alert;
    const out: Delivery[] = [];
    const data: Record<string, unknown> = { ...eventData(a, this.describe(a)) };
    if (n.type === 'fall_detected') {
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data });
      for (const target of this.s.notifyTargets) out.push({ kind: 'notify', target, step: 0, dropOnAck: true });
      if (this.s.persist !== 'off') out.push({ kind: 'persist', dropOnAck: true });
    } else if (n.type === 'fall_escalated') {
      for (const target of n.targets ?? []) out.push({ kind: 'notify', target, step: n.step ?? 1, dropOnAck: true });
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data: { ...data, step: n.step, targets: n.targets ?? [] } });
    } else if (n.type === 'fall_pending' || n.type === 'fall_cancelled') {
      // The wearer's window: an event for automations ("Are you OK?" on a speaker), no phone is told.
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data: { ...data, cancel_before: a.pending_until_ms !== undefined ? new Date(a.pending_until_ms).toISOString() : null } });
    } else {
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data: { ...data, acknowledged_by: a.acknowledged_by, acknowledged_at: a.acknowledged_at, ...(a.cancelled_by_wearer ? { cancelled_by_wearer: true } : {}) } });
      // Phones heard of it only if caregivers were alerted (not while the wearer could still cancel).
      if (isAlerted(a)) for (const target of this.phonesTold(a)) out.push({ kind: 'clear', target });
      if (this.s.persist !== 'off') out.push({ kind: 'dismiss' });
    }
    return out;
  }

  /** The first targets and every escalation tier the alert reached. */
  private phonesTold(a: AlertView): string[] {
    const tiers = this.s.escalationTiers ?? [];
    const reached = tiers.length ? Array.from({ length: a.escalation_step }, (_, i) => tiers[Math.min(i, tiers.length - 1)]!).flat() : [];
    return [...new Set([...this.s.notifyTargets, ...reached])];
  }

  async deliver(raw: SinkDelivery, a: AlertView): Promise<void> {
    const d = raw as Delivery;
    switch (d.kind) {
      case 'event':
        return this.ha.fireEvent(d.eventType, d.data);
      case 'notify': {
        const [domain, service] = splitService(d.target);
        return this.ha.callService(domain, service, this.notification(a, d.step));
      }
      case 'clear': {
        // The companion app's command to remove the notification with this tag from the phone.
        const [domain, service] = splitService(d.target);
        return this.ha.callService(domain, service, { message: 'clear_notification', data: { tag: tagOf(a) } });
      }
      case 'persist': {
        const [domain, service] = splitService(this.s.persist === 'notify.persistent_notification' ? 'persistent_notification.create' : this.s.persist);
        return this.ha.callService(domain, service, { title: this.title(a), message: this.message(a), notification_id: tagOf(a) });
      }
      case 'dismiss':
        return this.ha.callService('persistent_notification', 'dismiss', { notification_id: tagOf(a) });
    }
  }

  private describe(a: AlertView): DeviceDescription {
    return describeDevice(this.s.devices ?? [], a.device_id);
  }

  private where(a: AlertView, d = this.describe(a)): string {
    return fallLocation(d, a.location, this.s.locationDefault ?? '');
  }

  private notification(a: AlertView, step: number): Record<string, unknown> {
    const data: Record<string, unknown> = {
      tag: tagOf(a),
      actions: [
        { action: `${ACK_ACTION}${a.id}`, title: 'Acknowledge' },
        { action: `${ON_MY_WAY_ACTION}${a.id}`, title: "I'm on my way" },
      ],
    };
    // A wearer lying still after a fall is always the highest priority, whatever the option says.
    if (this.s.critical || a.not_moving || a.kind === 'help') {
      // iOS: critical alert (sounds on silent); Android: high priority on the alarm stream, no expiry.
      data.push = { sound: { name: 'default', critical: 1, volume: 1.0 }, 'interruption-level': 'critical' };
      data.priority = 'high';
      data.ttl = 0;
      data.channel = 'alarm_stream';
    }
    return { title: step ? `${this.title(a)} — no one has answered yet` : this.title(a), message: this.message(a), data };
  }

  /** "Fall detected: Grandma Kim", or the place when nobody is named for the device. */
  private title(a: AlertView): string {
    const d = this.describe(a);
    const what = a.kind === 'help' ? 'Call for help' : a.not_moving ? 'Fall, not moving' : 'Fall detected';
    return `${a.test ? '[TEST] ' : ''}${what}: ${d.person ?? this.where(a, d)}`;
  }

  /** "Grandma Kim may have fallen in the bathroom at 14:32 (Wrist band, confidence 93%)." */
  private message(a: AlertView): string {
    const d = this.describe(a);
    const device = d.person ? `${d.name}, ` : '';
    if (a.kind === 'help') return `${d.person ?? d.name} is calling for help ${inPlace(this.where(a, d))} ${localTime(a.time)}.`;
    const still = a.not_moving ? ' They have not moved since.' : '';
    return `${fallSentence(d, this.where(a, d), a.time)} (${device}confidence ${Math.round(a.probability * 100)}%).${still}`;
  }
}

function tagOf(a: AlertView): string {
  return `caredian_${a.id}`;
}

function eventData(a: AlertView, d: DeviceDescription): Record<string, unknown> {
  return { device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, event_id: a.id, time: a.time, ...(d.person ? { person: d.person } : {}), ...(d.name !== a.device_id ? { device_name: d.name } : {}), ...(a.test ? { test: true } : {}) };
}

function splitService(s: string): [string, string] {
  const i = s.indexOf('.');
  return i < 0 ? ['notify', s] : [s.slice(0, i), s.slice(i + 1)];
}
