// Fall alerts, from a stored fall to help, whoever delivers them. The service owns the life of an
// alert (open → escalated → acknowledged; the cooldown; the durable outbox) and hands notices to
// the sinks it is given. Every delivery owed waits in alerts.json, so an alert raised while a sink
// is away is delivered when it is back, and open alerts (with their escalation timers) survive a
// restart. Records stored after the last save are replayed at start: a fall acknowledged to its
// device just before a crash still alerts.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { AlertNotice, AlertView } from '../domain/alerts.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { isDecided, type AlertRecord, type FallRecord, type StoredEvent } from '../domain/records.js';
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
  /** Seconds the wearer has to cancel a fall ("I'm OK") before caregivers are alerted; 0: at once. */
  confirmWindowSec: number;
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
  /** Whether the last save reached the disk (false on a full disk). */
  private saved = true;
  /** Changed since the last save in a way the event log replays (repeats inside the cooldown). */
  private dirty = false;

  /** The alerting options of the configuration. */
  static settings(c: Config): AlertSettings {
    return {
      cooldownSec: c.fall_cooldown_sec,
      escalateAfterSec: c.escalation_after_sec,
      escalationTiers: c.escalation_targets.map((t) => t.split(',').map((x) => x.trim()).filter(Boolean)),
      escalationMaxSteps: c.escalation_max_steps,
      confirmWindowSec: c.confirm_window_sec,
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
    this.unsubs.push(this.bus.on('alert.test_request', ({ by }) => void this.raiseTest(by)));
    this.unsubs.push(this.bus.on('alert.cancel_request', ({ id, by }) => void this.cancel(id, by)));
    this.unsubs.push(this.bus.on('motion.still', ({ device_id }) => this.onStill(device_id)));
    this.unsubs.push(this.bus.on('motion.moving', ({ device_id }) => this.onMoving(device_id)));
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
    const pending = all.filter((a) => a.state === 'pending').length;
    const counts = `${open} open alerts, ${pending ? `${pending} pending (the wearer's window), ` : ''}${owed} deliveries waiting${failed.length ? `, ${failed.length} failed` : ''}`;
    const base = { ready: true, open, pending, outbox: owed, failed, sinks, ...(this.saved ? {} : { saved: false }) };
    const people = this.sinks.filter((k) => k.reachesPeople !== false);
    if (!people.length) return { ...base, warning: 'falls are stored but nobody is alerted: no alert sink is configured (Home Assistant or alert_webhooks)', detail: `nobody is alerted; ${counts}` };
    if (!people.some((k) => k.status().reachable)) {
      const why = people.map((k) => `${k.name}: ${k.status().detail}`).join('; ');
      return { ...base, warning: `falls are stored but nobody is alerted: no alert sink is reachable (${why})`, detail: `nobody is reachable; ${counts}` };
    }
    if (!this.saved) return { ...base, warning: 'disk full: alerts are delivered but not saved; a restart now would lose their state', detail: counts };
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

  /** What a device is told of the alert its fall opened or joined (a repeat inside the cooldown joins the active one). */
  briefFor(eventId: string, deviceId: string): { id: string; state: string; cancel_before?: string } | undefined {
    const a = this.alerts.get(eventId) ?? this.activeFall(deviceId);
    if (!a) return undefined;
    return { id: a.id, state: a.state, ...(a.state === 'pending' && a.pending_until_ms !== undefined ? { cancel_before: new Date(a.pending_until_ms).toISOString() } : {}) };
  }

  /** Acknowledge from any input (phone, page, admin API, Home Assistant). Undefined if no such alert. */
  async acknowledge(id: string, by: string): Promise<AlertView | undefined> {
    const a = this.alerts.get(id);
    if (!a) return undefined;
    if (a.state === 'acknowledged' || a.state === 'cancelled') return view(a);
    // Answered while still pending: caregivers never heard of it, so they are not told of the answer.
    const wasPending = a.state === 'pending';
    this.close(a, 'acknowledged', by);
    this.notify(a, { type: wasPending ? 'fall_cancelled' : 'fall_acknowledged', alert: view(a) });
    this.log.info({ alert: id, device_id: a.device_id, by, cancelled_by_wearer: a.cancelled_by_wearer ?? false }, a.cancelled_by_wearer ? 'fall alert resolved by the wearer ("I\'m OK")' : 'fall alert acknowledged');
    await this.store.ingest({ kind: 'alert', device_id: a.device_id, alert_id: id, action: 'acknowledged', by, ts: this.now() / 1000 }).catch((err: unknown) => this.log.error({ err }, 'could not store the acknowledgement'));
    return view(a);
  }

  /**
   * A test alert through every sink, marked as a test everywhere (device `gateway`, `test: true`).
   * It stays open until someone acknowledges it, so the acknowledgement path is tried too; it
   * never escalates.
   */
  raiseTest(by: string): AlertView {
    const now = this.now();
    const a: Alert = { id: `test-${randomUUID()}`, device_id: 'gateway', location: 'test', probability: 1, source: 'test', time: new Date(now).toISOString(), falls: 1, state: 'open', escalation_step: 0, created_ms: now, outbox: [], test: true };
    this.alerts.set(a.id, a);
    this.log.warn({ alert: a.id, by, sinks: this.sinks.map((k) => k.name) }, 'TEST alert requested: sending it through every sink');
    this.notify(a, { type: 'fall_detected', alert: view(a) });
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
    const help = e.kind === 'fall' && (e.event === 'help' || e.event === 'sos');
    if (e.kind !== 'fall' || (e.event !== 'fall' && !help)) return;
    const now = this.now();
    const time = new Date(Number(BigInt(e.ts_ns) / 1_000_000n)).toISOString();
    // A call for help never waits and no fall cooldown or decision mode suppresses it.
    if (help) return this.onFall(e, now, time, 'help');
    let active: Alert | undefined;
    for (const a of this.alerts.values()) {
      if (isActiveFall(a, e.device_id)) {
        active = a;
        break;
      }
    }
    // The seed's should_alert: inside the cooldown a repeat updates the active alert instead of alerting again.
    if (active && now - active.created_ms < this.s.cooldownSec * 1000) return this.onRepeat(active, e, time);
    // A report the decision policy did not confirm (FALL_DECISION_MODE, the cooldown) never opens an alert.
    if (isDecided(e)) this.onFall(e, now, time, 'fall');
  }

  private onRepeat(open: Alert, e: StoredEvent & FallRecord, time: string): void {
    open.falls++;
    open.probability = Math.max(open.probability, e.prob);
    open.time = time;
    open.location = e.location;
    // Not saved now: the repeat is in the event log after the saved cursor and replays at start;
    // the next tick saves it with the rest (a device repeating a fall must not cost an fsync each).
    this.dirty = true;
    this.bus.emit('alert.changed', view(open));
  }

  private onFall(e: StoredEvent & FallRecord, now: number, time: string, kind: 'fall' | 'help'): void {
    const a: Alert = { id: e.event_id, device_id: e.device_id, location: e.location, probability: e.prob, source: e.source, time, falls: 1, state: 'open', kind, escalation_step: 0, created_ms: now, outbox: [] };
    this.alerts.set(a.id, a);
    // The window counts from when the gateway received the fall, so a replay after a crash does not extend it.
    const until = (e.received_ms ?? now) + this.s.confirmWindowSec * 1000;
    if (kind === 'fall' && this.s.confirmWindowSec > 0 && until > now) {
      a.state = 'pending';
      a.pending_until_ms = until;
      this.log.warn({ alert: a.id, device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, cancel_before: new Date(until).toISOString() }, `FALL: the wearer has ${Math.round((until - now) / 1000)} s to cancel before caregivers are alerted`);
      this.record(a, 'pending');
      this.notify(a, { type: 'fall_pending', alert: view(a) });
      return;
    }
    this.alertCaregivers(a, 'at once');
  }

  /** From pending (or at once) to open: caregivers are alerted and escalation starts. */
  private alertCaregivers(a: Alert, why: string): void {
    const now = this.now();
    a.state = 'open';
    a.alerted_ms = now;
    a.pending_until_ms = undefined;
    if (this.s.escalationMaxSteps > 0) a.next_escalation_ms = now + this.s.escalateAfterSec * 1000;
    const people = this.sinks.filter((k) => k.reachesPeople !== false);
    const what = a.kind === 'help' ? 'HELP requested' : 'FALL';
    this.log.warn({ alert: a.id, device_id: a.device_id, location: a.location, probability: a.probability, source: a.source, why, not_moving: a.not_moving ?? false, sinks: this.sinks.map((k) => k.name) }, people.length ? `${what}: alerting caregivers` : `${what}: stored, but no alert sink is configured: nobody is alerted`);
    if (why !== 'at once') this.record(a, a.not_moving ? 'not_moving' : 'alerted');
    this.notify(a, { type: 'fall_detected', alert: view(a) });
  }

  /**
   * The wearer says "I'm OK" (from the device, MQTT, Home Assistant or the page). During the window
   * nobody is disturbed; after caregivers were alerted it resolves the alert like an acknowledgement.
   */
  async cancel(id: string, by: string): Promise<AlertView | undefined> {
    const a = this.alerts.get(id);
    if (!a) return undefined;
    if (a.state === 'open') {
      a.cancelled_by_wearer = true;
      return this.acknowledge(id, by);
    }
    if (a.state !== 'pending') return view(a);
    a.cancelled_by_wearer = true;
    this.close(a, 'cancelled', by);
    this.log.info({ alert: id, device_id: a.device_id, by }, 'fall cancelled by the wearer before anyone was alerted');
    this.notify(a, { type: 'fall_cancelled', alert: view(a) });
    await this.record(a, 'cancelled', by);
    return view(a);
  }

  /** Ends an alert's active life: no window, no escalation, and notifications nobody received yet dropped (the answer still goes out). */
  private close(a: Alert, state: 'acknowledged' | 'cancelled', by: string): void {
    a.state = state;
    a.acknowledged_by = by;
    a.acknowledged_at = new Date(this.now()).toISOString();
    a.pending_until_ms = undefined;
    a.next_escalation_ms = undefined;
    a.outbox = a.outbox.filter((o) => !o.d.dropOnAck);
  }

  /** The wearer lies still after a fall: the window ends at once, at the highest priority. */
  private onStill(deviceId: string): void {
    const a = this.activeFall(deviceId);
    if (!a || a.not_moving) return;
    a.not_moving = true;
    a.moving_again = undefined;
    if (a.state === 'pending') return this.alertCaregivers(a, 'not moving after the fall');
    this.log.warn({ alert: a.id, device_id: deviceId }, 'the wearer is not moving after the fall');
    this.record(a, 'not_moving');
    this.save();
    this.bus.emit('alert.changed', view(a));
  }

  /** Up and moving again: recorded, never a cancel (only a person cancels). */
  private onMoving(deviceId: string): void {
    const a = this.activeFall(deviceId);
    if (!a || a.moving_again) return;
    a.moving_again = true;
    a.not_moving = undefined;
    this.log.info({ alert: a.id, device_id: deviceId }, 'the wearer is moving again after the fall');
    this.record(a, 'moving_again');
    this.save();
    this.bus.emit('alert.changed', view(a));
  }

  private activeFall(deviceId: string): Alert | undefined {
    let best: Alert | undefined;
    for (const a of this.alerts.values()) if (isActiveFall(a, deviceId) && (!best || a.created_ms > best.created_ms)) best = a;
    return best;
  }

  /** A step of the alert's life in the event log (and so in InfluxDB's fall_alerts). */
  private record(a: Alert, action: AlertRecord['action'], by?: string): Promise<void> {
    return this.store
      .ingest({ kind: 'alert', device_id: a.device_id, alert_id: a.id, action, ...(by ? { by } : {}), ts: this.now() / 1000 })
      .then(() => undefined)
      .catch((err: unknown) => this.log.error({ err, action }, 'could not store an alert step'));
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
      if (a.state === 'pending' && a.pending_until_ms !== undefined && now >= a.pending_until_ms) {
        this.alertCaregivers(a, 'no answer from the wearer');
        changed = true;
      }
      if ((a.state === 'acknowledged' || a.state === 'cancelled') && !a.outbox.length && now - a.created_ms > KEEP_CLOSED_MS) {
        this.alerts.delete(a.id);
        changed = true;
      }
    }
    if (changed) this.save();
    else if (this.dirty) this.saveInBackground();
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
    this.dirty = false;
    this.noteSaved(this.file.save(this.alerts.values(), this.cursor));
  }

  /** Repeats inside an alert replay from the event log after a crash, so saving them may wait for the disk. */
  private saveInBackground(): void {
    const p = this.file.saveInBackground(this.alerts.values(), this.cursor);
    if (!p) return; // one is running: still dirty, the next tick saves
    this.dirty = false;
    p.then(
      (ok) => {
        if (!ok) this.dirty = true;
        this.noteSaved(ok);
      },
      (err: unknown) => {
        this.dirty = true;
        this.log.error({ err, path: this.file.path }, 'could not save the alerts; will retry');
      },
    );
  }

  private noteSaved(ok: boolean): void {
    if (ok === this.saved) return;
    this.saved = ok;
    if (!ok) this.log.error({ path: this.file.path }, 'disk full: alerts are kept in memory (and still delivered) and saved when there is space');
    else this.log.info('alerts saved again');
  }
}

/** A fall alert of the device that is still pending or open (a call for help is never one). */
function isActiveFall(a: Alert, deviceId: string): boolean {
  return a.device_id === deviceId && a.kind !== 'help' && (a.state === 'pending' || a.state === 'open');
}

function view(a: Alert): AlertView {
  const { outbox: _o, failed: _f, ...rest } = a;
  return rest;
}
