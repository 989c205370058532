// Fall alerts, from a stored fall to help, whoever delivers them. The service owns the life of an
// alert (open → escalated → acknowledged; the cooldown; the durable outbox) and hands notices to
// the sinks it is given. Every delivery owed waits in alerts.json, so an alert raised while a sink
// is away is delivered when it is back, and open alerts (with their escalation timers) survive a
// restart. Records stored after the last save are replayed at start: a fall acknowledged to its
// device just before a crash still alerts.
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { AlertNotice, AlertView } from '../domain/alerts.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { isDecided, type FallRecord, type StoredEvent } from '../domain/records.js';
import type { EventStore } from '../events/event-store.js';
import { AlertFile, type Alert, type Outgoing } from './alert-store.js';
import { PermanentDeliveryError, type AlertSink } from './sink.js';
import { alertRouter } from './alert-routes.js';

export interface AlertSettings {
  cooldownSec: number;
  escalateAfterSec: number;
  /** Notify targets per escalation step (step 1 uses the first tier; later steps the last). */
  escalationTiers: string[][];
  escalationMaxSteps: number;
}

const KEEP_CLOSED_MS = 7 * 86400_000;
const RETRY_BASE_MS = 2000;
const RETRY_MAX_MS = 300_000;
const REPLAY_BATCH = 5000;

export class AlertService implements GatewayModule {
  readonly name = 'alerts';
  private alerts = new Map<string, Alert>();
  private readonly file: AlertFile;
  private cursor = 0;
  private timer?: NodeJS.Timeout;
  private draining = false;
  private drainAgain = false;
  private unsubs: (() => void)[] = [];
  private readonly sinksByName: Map<string, AlertSink>;

  /** The alerting options of the configuration. */
  static settings(c: Config): AlertSettings {
    return {
      cooldownSec: c.fall_cooldown_sec,
      escalateAfterSec: c.escalation_after_sec,
      escalationTiers: c.escalation_targets.map((t) => t.split(',').map((x) => x.trim()).filter(Boolean)),
      escalationMaxSteps: c.escalation_max_steps,
    };
  }

  constructor(
    dataDir: string,
    private readonly bus: GatewayBus,
    private readonly store: EventStore,
    private readonly sinks: AlertSink[],
    private readonly s: AlertSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.file = new AlertFile(dataDir);
    this.sinksByName = new Map(sinks.map((k) => [k.name, k]));
  }

  async start(): Promise<void> {
    const saved = this.file.load();
    for (const a of saved.alerts) this.alerts.set(a.id, a);
    this.cursor = saved.cursor ?? this.store.lastCommittedSeq;
    this.replay();
    this.unsubs.push(this.bus.on('event.stored', (e) => this.onStored(e)));
    this.unsubs.push(this.bus.on('alert.ack_request', ({ id, by }) => void this.acknowledge(id, by)));
    for (const a of this.alerts.values()) this.bus.emit('alert.changed', view(a));
    for (const k of this.sinks) k.onAvailable?.(() => void this.drain());
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
    void this.drain();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const u of this.unsubs) u();
    this.save();
  }

  status(): ModuleStatus {
    const all = [...this.alerts.values()];
    const open = all.filter((a) => a.state === 'open').length;
    const owed = all.reduce((n, a) => n + a.outbox.length, 0);
    const failed = all.flatMap((a) => (a.failed ?? []).map((f) => ({ alert: a.id, ...f })));
    const sinks = Object.fromEntries(this.sinks.map((k) => [k.name, k.status()]));
    const counts = `${open} open alerts, ${owed} deliveries waiting${failed.length ? `, ${failed.length} failed` : ''}`;
    const base = { ready: true, open, outbox: owed, failed, sinks };
    if (!this.sinks.length) return { ...base, warning: 'falls are stored but nobody is alerted: no alert sink is configured (Home Assistant or alert_webhooks)', detail: `nobody is alerted; ${counts}` };
    if (!this.sinks.some((k) => k.status().reachable)) {
      const why = this.sinks.map((k) => `${k.name}: ${k.status().detail}`).join('; ');
      return { ...base, warning: `falls are stored but nobody is alerted: no alert sink is reachable (${why})`, detail: `nobody is reachable; ${counts}` };
    }
    if (failed.length) return { ...base, warning: `${failed.length} alert deliveries failed for good (see failed)`, detail: counts };
    return { ...base, detail: counts };
  }

  adminRoutes() {
    return [alertRouter(this)];
  }

  list(): AlertView[] {
    return [...this.alerts.values()].map(view).sort((a, b) => b.created_ms - a.created_ms);
  }

  get(id: string): AlertView | undefined {
    const a = this.alerts.get(id);
    return a && view(a);
  }

  /** Acknowledge from any input (phone, page, admin API, Home Assistant). Undefined if no such alert. */
  async acknowledge(id: string, by: string): Promise<AlertView | undefined> {
    const a = this.alerts.get(id);
    if (!a) return undefined;
    if (a.state === 'acknowledged') return view(a);
    a.state = 'acknowledged';
    a.acknowledged_by = by;
    a.acknowledged_at = new Date(this.now()).toISOString();
    a.next_escalation_ms = undefined;
    // Notifications nobody received yet are pointless now; the acknowledgement still has to go out.
    a.outbox = a.outbox.filter((o) => !o.d.dropOnAck);
    this.notify(a, { type: 'fall_acknowledged', alert: view(a) });
    this.log.info({ alert: id, device_id: a.device_id, by }, 'fall alert acknowledged');
    await this.store.ingest({ kind: 'alert', device_id: a.device_id, alert_id: id, action: 'acknowledged', by, ts: this.now() / 1000 }).catch((err: unknown) => this.log.error({ err }, 'could not store the acknowledgement'));
    return view(a);
  }

  private replay(): void {
    for (;;) {
      const batch = this.store.readAfter(this.cursor, REPLAY_BATCH);
      if (!batch.length) break;
      for (const e of batch) if (e.kind === 'fall' && !this.alerts.has(e.event_id)) this.onStored(e);
      this.cursor = batch.at(-1)!.seq;
    }
  }

  private onStored(e: StoredEvent): void {
    if (e.seq > this.cursor) this.cursor = e.seq;
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
    this.bus.emit('alert.changed', view(open));
  }

  private onFall(e: StoredEvent & FallRecord, now: number, time: string): void {
    const a: Alert = { id: e.event_id, device_id: e.device_id, location: e.location, probability: e.prob, source: e.source, time, falls: 1, state: 'open', escalation_step: 0, created_ms: now, outbox: [] };
    if (this.s.escalationMaxSteps > 0) a.next_escalation_ms = now + this.s.escalateAfterSec * 1000;
    this.alerts.set(a.id, a);
    this.log.warn({ alert: a.id, device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, sinks: this.sinks.map((k) => k.name) }, this.sinks.length ? 'FALL: alerting caregivers' : 'FALL: stored, but no alert sink is configured: nobody is alerted');
    this.notify(a, { type: 'fall_detected', alert: view(a) });
  }

  /** Queues every sink's deliveries for a notice, saves, tells the bus, and starts delivering. */
  private notify(a: Alert, notice: AlertNotice): void {
    for (const k of this.sinks) for (const d of k.plan(notice)) a.outbox.push({ sink: k.name, d, attempts: 0, nextTryMs: 0 });
    this.save();
    this.bus.emit('alert.notice', notice);
    this.bus.emit('alert.changed', notice.alert);
    void this.drain();
  }

  private tick(): void {
    const now = this.now();
    let changed = false;
    for (const a of this.alerts.values()) {
      if (a.state === 'open' && a.next_escalation_ms !== undefined && now >= a.next_escalation_ms) {
        a.escalation_step++;
        const tiers = this.s.escalationTiers;
        const targets = tiers[Math.min(a.escalation_step - 1, tiers.length - 1)] ?? [];
        a.next_escalation_ms = a.escalation_step < this.s.escalationMaxSteps ? now + this.s.escalateAfterSec * 1000 : undefined;
        this.log.warn({ alert: a.id, device_id: a.device_id, step: a.escalation_step, targets }, 'fall not acknowledged: escalating');
        void this.store.ingest({ kind: 'alert', device_id: a.device_id, alert_id: a.id, action: 'escalated', step: a.escalation_step, ts: now / 1000 }).catch((err: unknown) => this.log.error({ err }, 'could not store the escalation'));
        this.notify(a, { type: 'fall_escalated', alert: view(a), step: a.escalation_step, targets });
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

  /** Delivers what is owed, oldest alert first; a failing delivery is retried with backoff and blocks nothing else. */
  async drain(): Promise<void> {
    if (this.draining) {
      this.drainAgain = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        for (const a of [...this.alerts.values()].sort((x, y) => x.created_ms - y.created_ms)) {
          for (const o of [...a.outbox]) {
            const sink = this.sinksByName.get(o.sink);
            if (o.nextTryMs > this.now() || (sink && !sink.available)) continue;
            await this.attempt(a, o, sink);
          }
        }
      } while (this.drainAgain);
    } finally {
      this.draining = false;
    }
  }

  private async attempt(a: Alert, o: Outgoing, sink: AlertSink | undefined): Promise<void> {
    try {
      if (!sink) throw new PermanentDeliveryError(`no sink named ${o.sink} is configured any more`);
      await sink.deliver(o.d, view(a));
      this.remove(a, o);
    } catch (err) {
      const reason = (err as Error).message;
      if (err instanceof PermanentDeliveryError) {
        (a.failed ??= []).push({ sink: o.sink, kind: o.d.kind, reason, at: new Date(this.now()).toISOString() });
        this.remove(a, o);
        this.log.error({ alert: a.id, sink: o.sink, delivery: o.d.kind, reason }, 'alert delivery refused; it will not be retried');
      } else {
        o.attempts++;
        o.lastError = reason;
        o.nextTryMs = this.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(o.attempts, 8));
        this.log.error({ alert: a.id, sink: o.sink, delivery: o.d.kind, attempts: o.attempts, reason }, 'alert delivery failed; will retry');
      }
    }
    this.save();
  }

  private remove(a: Alert, o: Outgoing): void {
    // acknowledge() may have rebuilt the outbox meanwhile: remove this entry only if it is still there.
    const i = a.outbox.indexOf(o);
    if (i >= 0) a.outbox.splice(i, 1);
  }

  private save(): void {
    this.file.save(this.alerts.values(), this.cursor);
  }
}

function view(a: Alert): AlertView {
  const { outbox: _o, failed: _f, ...rest } = a;
  return rest;
}
