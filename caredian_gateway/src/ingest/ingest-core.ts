// The ingest core: a fall report, a heartbeat or an IMU chunk from an identified device, validated,
// checked against who may speak for the device and the device caps, decided (the sensor/model
// decision policy), stored durably, and answered with a typed outcome. It knows no transport:
// HTTP, MQTT and Home Assistant inputs call it and map the outcome, so they share every check.
import { randomUUID } from 'node:crypto';
import type { ClientConfig, Config, Placement } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { NewRecord } from '../domain/records.js';
import type { EventStore, KnownEvent } from '../events/event-store.js';
import { FallEventSchema, HeartbeatSchema, type FallEventBody } from '../events/schemas.js';
import { zodProblems } from '../core/zod-problems.js';
import type { FallInferenceModule } from '../inference/inference-module.js';
import { parseImuBody } from '../inference/imu-schema.js';
import { DeviceAdmission, type KnownDevices } from './device-admission.js';
import { DeviceOwnership } from './device-ownership.js';
import { DISK_FULL, storeFailure, type AlertBrief, type DeviceIdentity, type FallStored, type ImuProcessed, type IngestKind, type IngestObserver, type Outcome } from './outcomes.js';

export interface IngestSettings {
  locationDefault: string;
  /** The configured clients, with the devices each may post for. */
  clients: ClientConfig[];
  maxDevices: number;
  maxNewDevicesPerMin: number;
  /** How far ahead of the gateway's clock a device's ts / t0 may be. */
  maxFutureSkewSec: number;
  /**
   * The devices each input inside the gateway may speak for: MQTT for those the `devices` option
   * lists (the broker's ACL authenticates them), Home Assistant for its `ha_sources`. HTTP clients
   * are judged by their own `devices` list only.
   */
  inputDevices: Record<InputVia, readonly string[]>;
  /** The placement the `devices` option gives a device (IMU chunks without a placement of their own). */
  devicePlacements?: Readonly<Record<string, Placement>>;
}

/** Remembers the placement each device last declared in an IMU chunk (the device registry). */
export interface PlacementMemory {
  placementOf(deviceId: string): Placement | undefined;
  declarePlacement(deviceId: string, placement: Placement, clientId?: string): void;
}

type InputVia = Exclude<DeviceIdentity['via'], 'http'>;

/** Where a fall report came from when not from the device itself: a Home Assistant entity. */
export interface ReportOrigin {
  entityId: string;
}

export interface IngestCoreDeps {
  store: EventStore;
  inference: FallInferenceModule;
  /** The devices the gateway keeps (the registry): anything else is a new device. */
  known: KnownDevices;
  settings: IngestSettings;
  log: Logger;
  /** The alert a just-stored fall opened or joined (the alert service hears of it before the store resolves). */
  alertFor?: (eventId: string, deviceId: string) => AlertBrief | undefined;
  placements?: PlacementMemory;
  /** Watches motion after a decided fall (stillness raises the alarm at once). */
  motion?: { feed(deviceId: string, t0: number, rateHz: number, acc: number[][]): void };
}

type FallRec = NewRecord & { kind: 'fall' };
/** A fall the IMU stream decided (never a Home Assistant entity's). */
type ImuFallRec = FallRec & { source: 'sensor' | 'model' | 'both' };

export class IngestCore implements GatewayModule {
  readonly name = 'ingest';
  /** Model-decided falls that could not be stored yet: stored with the device's next chunk. */
  private owed = new Map<string, ImuFallRec[]>();
  private readonly ownership: DeviceOwnership;
  private readonly inputDevices: Record<InputVia, Set<string>>;
  private readonly admission: DeviceAdmission;
  private notOwned = 0;
  private storeFailures = 0;
  private lastFailureLogMs = 0;
  private observer?: IngestObserver;

  static settings(c: Config): IngestSettings {
    return {
      locationDefault: c.location_default,
      clients: c.cc_clients,
      maxDevices: c.max_devices,
      maxNewDevicesPerMin: c.max_new_devices_per_min,
      maxFutureSkewSec: c.max_future_skew_sec,
      inputDevices: { mqtt: c.devices.map((d) => d.device_id), home_assistant: c.ha_sources.map((s) => s.device_id) },
      devicePlacements: Object.fromEntries(c.devices.flatMap((d) => (d.placement ? [[d.device_id, d.placement]] : []))),
    };
  }

  constructor(private readonly d: IngestCoreDeps) {
    this.ownership = new DeviceOwnership(d.settings.clients);
    this.inputDevices = { mqtt: new Set(d.settings.inputDevices.mqtt), home_assistant: new Set(d.settings.inputDevices.home_assistant) };
    this.admission = new DeviceAdmission(d.known, { maxDevices: d.settings.maxDevices, maxNewPerMin: d.settings.maxNewDevicesPerMin }, d.log.child({ module: 'ingest' }));
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  status(): ModuleStatus {
    const { warning, ...a } = this.admission.status();
    return { ready: true, detail: `${a.devices} of at most ${a.max_devices} devices`, ...a, refused_not_owned: this.notOwned, ...(warning ? { warning } : {}) };
  }

  /** Tells `o` of every outcome from now on (one observer: the metrics). */
  observe(o: IngestObserver): void {
    this.observer = o;
  }

  reportFall(who: DeviceIdentity, body: unknown, origin?: ReportOrigin): Promise<Outcome<FallStored>> {
    return this.observed(who, 'fall', this.fall(who, body, origin));
  }

  heartbeat(who: DeviceIdentity, body: unknown): Promise<Outcome<null>> {
    return this.observed(who, 'heartbeat', this.beat(who, body));
  }

  imuChunk(who: DeviceIdentity, body: unknown): Promise<Outcome<ImuProcessed>> {
    return this.observed(who, 'imu', this.imu(who, body));
  }

  private observed<T>(who: DeviceIdentity, kind: IngestKind, p: Promise<Outcome<T>>): Promise<Outcome<T>> {
    const o = this.observer;
    if (!o) return p;
    const at = who.arrivedAtMs ?? performance.timeOrigin + performance.now();
    return p.then((r) => {
      try {
        o(who.via, kind, r, at);
      } catch {
        // Counting never turns an answered request into a failed one.
      }
      return r;
    });
  }

  private async fall(who: DeviceIdentity, body: unknown, origin?: ReportOrigin): Promise<Outcome<FallStored>> {
    const parsed = FallEventSchema.safeParse(body);
    if (!parsed.success) return { kind: 'invalid', problems: zodProblems(parsed.error) };
    const b = parsed.data;
    const denied = this.checkOwner(who, b.device_id);
    if (denied) return denied;
    if (b.ts !== undefined) {
      const ahead = this.aheadOfClock(b.ts);
      if (ahead) return { kind: 'invalid', problems: [`ts: is ${ahead} s in the future by the gateway's clock; at most ${this.d.settings.maxFutureSkewSec} s is accepted (max_future_skew_sec): check the device's clock`] };
    }
    // A retry is answered before anything is decided: it never starts or extends a cooldown.
    if (b.event_id !== undefined) {
      const known = this.d.store.known(b.device_id, b.event_id);
      if (known) return this.withAlert(retryOutcome(known, b), b.device_id);
    }
    const limited = this.admit(who, b.device_id);
    if (limited) return limited;
    const ts = b.ts ?? Date.now() / 1000;
    const decider = this.d.inference.decider;
    // The sensor's vote. Undone if the event cannot be stored, so the device's retry is judged afresh.
    // From the retry check above to the store reserving the event id nothing awaits, so a
    // concurrent retry of this event sees it as known.
    const before = b.event === 'fall' ? decider.snapshot(b.device_id) : undefined;
    const decision = b.event === 'fall' ? decider.onSensorFall(b.device_id, ts, b.prob) : undefined;
    try {
      const { event, duplicate } = await this.d.store.ingest(
        {
          kind: 'fall',
          device_id: b.device_id,
          location: b.location ?? this.d.settings.locationDefault,
          event: b.event,
          prob: b.prob,
          ts,
          event_id: b.event_id ?? randomUUID(),
          source: origin ? 'ha_entity' : (decision?.source ?? 'sensor'),
          ...(origin ? { entity_id: origin.entityId } : {}),
          ...(b.event === 'fall' ? { decided: decision !== undefined } : {}),
          client_id: who.clientId,
        },
        b.event_id,
      );
      const eventId = event.kind === 'fall' ? event.event_id : '';
      const alert = b.event === 'fall' || b.event === 'help' || b.event === 'sos' ? this.d.alertFor?.(eventId, b.device_id) : undefined;
      const value: FallStored = { event_id: eventId, ...(alert ? { alert } : {}) };
      if (b.event === 'fall' && !duplicate) {
        // A report that joins an alert already open for the device (a device repeating its fall,
        // several sensors seeing one fall) is in the event log and the alert's count; the add-on
        // log gets one warning per alert, not one per report (a busy device would flood it).
        const joins = alert !== undefined && alert.id !== eventId;
        if (!joins || this.d.log.isLevelEnabled('debug')) {
          const line = { device_id: b.device_id, event_id: eventId, prob: b.prob, decided: decision !== undefined, via: who.via, ...(alert ? { alert: alert.id } : {}) };
          if (joins) this.d.log.debug(line, 'fall reported by a device: joins the open alert');
          else this.d.log.warn(line, 'fall reported by a device');
        }
      }
      return { kind: duplicate ? 'duplicate' : 'stored', value };
    } catch (err) {
      if (before) decider.restore(b.device_id, before);
      return this.failed(err);
    }
  }

  private async beat(who: DeviceIdentity, body: unknown): Promise<Outcome<null>> {
    const parsed = HeartbeatSchema.safeParse(body);
    if (!parsed.success) return { kind: 'invalid', problems: zodProblems(parsed.error) };
    const refused = this.checkOwner(who, parsed.data.device_id) ?? this.admit(who, parsed.data.device_id);
    if (refused) return refused;
    try {
      await this.d.store.ingest({ kind: 'heartbeat', ...parsed.data, client_id: who.clientId, ts: Date.now() / 1000 });
      return { kind: 'stored', value: null };
    } catch (err) {
      return this.failed(err);
    }
  }

  /**
   * Raw motion data in, decided falls out. A decided fall is stored durably before the outcome
   * names it; if storing fails, it is stored with the device's next chunk, since the retried
   * samples are not fed to the model twice.
   */
  private async imu(who: DeviceIdentity, body: unknown): Promise<Outcome<ImuProcessed>> {
    const inf = this.d.inference.inference;
    if (!inf) return { kind: 'unavailable', error: 'inference_unavailable', description: this.d.inference.unavailable() };
    const parsed = parseImuBody(body, inf.requiresGyro);
    if (!parsed.ok) return { kind: 'invalid', problems: parsed.problems };
    const b = parsed.body;
    const denied = this.checkOwner(who, b.device_id);
    if (denied) return denied;
    // The last sample is what would land on the device's timeline: a later chunk at the right time would be dropped as already received.
    const chunkStart = inf.chunkStart(b.device_id, b.t0);
    const ahead = this.aheadOfClock(chunkStart + (b.acc.length - 1) / b.rate_hz);
    if (ahead) {
      const max = `at most ${this.d.settings.maxFutureSkewSec} s is accepted (max_future_skew_sec)`;
      return { kind: 'invalid', problems: [b.t0 !== undefined ? `t0: the chunk's last sample is ${ahead} s in the future by the gateway's clock; ${max}: check the device's clock` : `t0: without t0 this chunk continues the previous one and would end ${ahead} s in the future by the gateway's clock; ${max}: send t0, or send no faster than real time`] };
    }
    // With the log full, a decided fall could not be stored: nothing is fed until there is room.
    if (this.d.store.diskFull) return DISK_FULL;
    if (this.d.store.full) return { kind: 'backpressure', retryAfterSec: 5 };
    const limited = this.admit(who, b.device_id);
    if (limited) return limited;
    // The chunk's own placement, else what the device last declared, else the devices option's, else unknown.
    const placement = b.placement ?? this.d.placements?.placementOf(b.device_id) ?? this.d.settings.devicePlacements?.[b.device_id] ?? 'unknown';
    let outcome;
    try {
      outcome = await inf.ingest(b.device_id, { t0: b.t0, rateHz: b.rate_hz, acc: b.acc, gyro: b.gyro, placement });
    } catch (err) {
      this.d.log.error({ err, device_id: b.device_id }, 'fall inference failed');
      return { kind: 'unavailable', error: 'inference_failed', description: 'the model could not score this chunk; retry later', retryAfterSec: 5 };
    }
    if (b.placement !== undefined) this.d.placements?.declarePlacement(b.device_id, b.placement, who.clientId);
    const recs: ImuFallRec[] = [...(this.owed.get(b.device_id) ?? [])];
    for (const x of outcome.decisions) {
      recs.push({ kind: 'fall', device_id: b.device_id, location: b.location ?? this.d.settings.locationDefault, event: 'fall', prob: round(x.prob), ts: x.ts, event_id: randomUUID(), source: x.source, ...(x.detector ? { detector: x.detector } : {}), placement, decided: true, client_id: who.clientId });
      this.d.log.warn({ device_id: b.device_id, ts: x.ts, prob: x.prob, source: x.source, detector: x.detector, placement, via: who.via }, 'fall decided from IMU stream');
    }
    if (recs.length) {
      try {
        await this.d.store.ingestMany(recs.map((rec) => ({ rec, clientEventId: rec.event_id })));
        this.owed.delete(b.device_id);
        // The page shows what the motion looked like around each of these falls.
        for (const r of recs) this.d.inference.keepMotion(r.device_id, r.event_id, r.ts);
      } catch (err) {
        this.owed.set(b.device_id, recs);
        return this.failed(err);
      }
    }
    // After a decided fall, the same samples say whether the wearer lies still or moves again.
    this.d.motion?.feed(b.device_id, chunkStart, b.rate_hz, b.acc);
    const falls = recs.map((r) => {
      const alert = this.d.alertFor?.(r.event_id, r.device_id);
      return { id: r.event_id, ts: r.ts, prob: r.prob, source: r.source, ...(alert ? { alert } : {}) };
    });
    const last = falls.at(-1)?.alert;
    return { kind: 'stored', value: { accepted: outcome.accepted, falls, ...(last ? { alert: last } : {}) } };
  }

  /** Whether a client may speak for a device (its own id, or what its `devices` list allows). */
  owns(clientId: string, deviceId: string): boolean {
    return this.ownership.allows(clientId, deviceId);
  }

  private checkOwner(who: DeviceIdentity, deviceId: string): Outcome<never> | undefined {
    if (who.via !== 'http') {
      if (this.inputDevices[who.via].has(deviceId)) return undefined;
      this.notOwned++;
      const listed = who.via === 'mqtt' ? 'the devices option' : 'ha_sources';
      return { kind: 'forbidden', error: 'device_not_listed', description: `device "${deviceId}" is not listed in ${listed}: the ${who.via === 'mqtt' ? 'MQTT' : 'Home Assistant'} input accepts only the devices listed there` };
    }
    if (this.ownership.allows(who.clientId, deviceId)) return undefined;
    this.notOwned++;
    return { kind: 'forbidden', error: 'device_not_allowed', description: `client "${who.clientId}" may not post for device "${deviceId}": a client posts for the device id equal to its client id, or for the devices its configuration lists (devices)` };
  }

  private admit(who: DeviceIdentity, deviceId: string): Outcome<never> | undefined {
    const r = this.admission.admit(who.clientId, deviceId);
    return r && { kind: 'limited', error: 'device_limit', description: r.description, limit: r.limit, retryAfterSec: r.retryAfterSec };
  }

  /** Whole seconds `ts` is ahead of the gateway's clock beyond the tolerance, or 0. */
  private aheadOfClock(ts: number): number {
    const ahead = ts - Date.now() / 1000;
    return ahead > this.d.settings.maxFutureSkewSec ? Math.ceil(ahead) : 0;
  }

  /** A retry is told of the alert its first try opened, like the first try was. */
  private withAlert(o: Outcome<FallStored>, deviceId: string): Outcome<FallStored> {
    if (o.kind !== 'duplicate') return o;
    const alert = this.d.alertFor?.(o.value.event_id, deviceId);
    return alert ? { kind: 'duplicate', value: { ...o.value, alert } } : o;
  }

  private failed(err: unknown): Outcome<never> {
    const o = storeFailure(err);
    if (o.kind !== 'unavailable') return o;
    // Once a minute at most, with the count: a full disk must not flood the log (it is full already).
    this.storeFailures++;
    const now = Date.now();
    if (now - this.lastFailureLogMs >= 60_000) {
      this.d.log.error({ err, failures: this.storeFailures }, 'could not store event');
      this.lastFailureLogMs = now;
      this.storeFailures = 0;
    }
    return o;
  }
}

/**
 * A report reusing an event id the device already stored. Identical (a retry) when event and prob
 * are the same, and location and ts too where the retry gives them (ts to the millisecond; a field
 * the retry leaves out was filled in by the gateway): answered as a duplicate. Anything else is a
 * different event under a used id: a conflict, so it is neither dropped silently nor stored.
 */
function retryOutcome(known: KnownEvent, b: FallEventBody): Outcome<FallStored> {
  const f = known.facts;
  // Ids from a snapshot written before the facts were kept: nothing to compare.
  if (!f) return { kind: 'duplicate', value: { event_id: known.eventId } };
  const differ: string[] = [];
  if (f.event !== b.event) differ.push('event');
  if (f.prob !== b.prob) differ.push('prob');
  if (b.location !== undefined && f.location !== b.location) differ.push('location');
  if (b.ts !== undefined && Math.round(b.ts * 1000) !== f.tsMs) differ.push('ts');
  if (!differ.length) return { kind: 'duplicate', value: { event_id: known.eventId } };
  return { kind: 'conflict', eventId: known.eventId, reason: `event_id "${known.eventId}" was already used by this device for a different event (${differ.join(', ')} differ); a new event needs a new event_id` };
}

const round = (p: number) => Math.round(p * 1e4) / 1e4;
