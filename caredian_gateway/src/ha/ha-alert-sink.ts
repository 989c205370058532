// Alerts through Home Assistant: `caredian_fall*` events for automations, actionable (optionally
// critical) phone notifications per target, and a persistent notification dismissed on acknowledgement.
import type { AlertNotice, AlertView } from '../domain/alerts.js';
import type { AlertSink, SinkDelivery, SinkStatus } from '../alerting/sink.js';
import type { HaClient } from './ha-client.js';

export const ACK_ACTION = 'CAREDIAN_ACK_';
export const ON_MY_WAY_ACTION = 'CAREDIAN_OMW_';

export interface HaAlertSettings {
  notifyTargets: string[];
  /** persistent_notification.create (or the seed's notify.persistent_notification), or 'off'. */
  persist: string;
  critical: boolean;
}

type Delivery =
  | { kind: 'event'; eventType: string; data: Record<string, unknown> }
  | { kind: 'notify'; target: string; step: number; dropOnAck: true }
  | { kind: 'persist'; dropOnAck: true }
  | { kind: 'dismiss' };

const EVENT_TYPES = { fall_detected: 'caredian_fall', fall_escalated: 'caredian_fall_escalated', fall_acknowledged: 'caredian_fall_acknowledged' } as const;

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
    const data: Record<string, unknown> = { ...eventData(a) };
    if (n.type === 'fall_detected') {
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data });
      for (const target of this.s.notifyTargets) out.push({ kind: 'notify', target, step: 0, dropOnAck: true });
      if (this.s.persist !== 'off') out.push({ kind: 'persist', dropOnAck: true });
    } else if (n.type === 'fall_escalated') {
      for (const target of n.targets ?? []) out.push({ kind: 'notify', target, step: n.step ?? 1, dropOnAck: true });
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data: { ...data, step: n.step, targets: n.targets ?? [] } });
    } else {
      out.push({ kind: 'event', eventType: EVENT_TYPES[n.type], data: { ...data, acknowledged_by: a.acknowledged_by, acknowledged_at: a.acknowledged_at } });
      if (this.s.persist !== 'off') out.push({ kind: 'dismiss' });
    }
    return out;
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
      case 'persist': {
        const [domain, service] = splitService(this.s.persist === 'notify.persistent_notification' ? 'persistent_notification.create' : this.s.persist);
        return this.ha.callService(domain, service, { title: title(a), message: message(a), notification_id: `caredian_${a.id}` });
      }
      case 'dismiss':
        return this.ha.callService('persistent_notification', 'dismiss', { notification_id: `caredian_${a.id}` });
    }
  }

  private notification(a: AlertView, step: number): Record<string, unknown> {
    const data: Record<string, unknown> = {
      tag: `caredian_${a.id}`,
      actions: [
        { action: `${ACK_ACTION}${a.id}`, title: 'Acknowledge' },
        { action: `${ON_MY_WAY_ACTION}${a.id}`, title: "I'm on my way" },
      ],
    };
    if (this.s.critical) {
      // iOS: critical alert (sounds on silent); Android: high priority on the alarm stream, no expiry.
      data.push = { sound: { name: 'default', critical: 1, volume: 1.0 }, 'interruption-level': 'critical' };
      data.priority = 'high';
      data.ttl = 0;
      data.channel = 'alarm_stream';
    }
    return { title: step ? `${title(a)} — no one has answered yet` : title(a), message: message(a), data };
  }
}

function title(a: AlertView): string {
  return `${a.test ? '[TEST] ' : ''}Fall detected: ${a.location}`;
}

function message(a: AlertView): string {
  const at = new Date(a.time).toLocaleString('en-GB', { hour: '2-digit', minute: '2-digit', day: 'numeric', month: 'short' });
  return `${a.device_id} detected a fall in ${a.location} at ${at} (confidence ${Math.round(a.probability * 100)}%).`;
}

function eventData(a: AlertView): Record<string, unknown> {
  return { device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, event_id: a.id, time: a.time, ...(a.test ? { test: true } : {}) };
}

function splitService(s: string): [string, string] {
  const i = s.indexOf('.');
  return i < 0 ? ['notify', s] : [s.slice(0, i), s.slice(i + 1)];
}
