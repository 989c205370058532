// The ingest core: a fall report, a heartbeat or an IMU chunk from an identified device, validated,
// decided (the sensor/model decision policy), stored durably, and answered with a typed outcome.
// It knows no transport: HTTP, MQTT and Home Assistant inputs call it and map the outcome.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import type { NewRecord } from '../domain/records.js';
import type { EventStore } from '../events/event-store.js';
import { FallEventSchema, HeartbeatSchema } from '../events/schemas.js';
import { zodProblems } from '../core/zod-problems.js';
import type { FallInferenceModule } from '../inference/inference-module.js';
import { parseImuBody } from '../inference/imu-schema.js';
import { storeFailure, type DeviceIdentity, type FallStored, type ImuProcessed, type Outcome } from './outcomes.js';

export interface IngestCoreDeps {
  store: EventStore;
  inference: FallInferenceModule;
  locationDefault: string;
  log: Logger;
}

type FallRec = NewRecord & { kind: 'fall' };

export class IngestCore {
  /** Model-decided falls that could not be stored yet: stored with the device's next chunk. */
  private owed = new Map<string, FallRec[]>();

  constructor(private readonly d: IngestCoreDeps) {}

  async reportFall(who: DeviceIdentity, body: unknown): Promise<Outcome<FallStored>> {
    const parsed = FallEventSchema.safeParse(body);
    if (!parsed.success) return { kind: 'invalid', problems: zodProblems(parsed.error) };
    const b = parsed.data;
    const ts = b.ts ?? Date.now() / 1000;
    const decider = this.d.inference.decider;
    // The sensor's vote. Undone if the event cannot be stored, so the device's retry is judged afresh.
    const before = b.event === 'fall' ? decider.snapshot(b.device_id) : undefined;
    const decision = b.event === 'fall' ? decider.onSensorFall(b.device_id, ts, b.prob) : undefined;
    try {
      const { event, duplicate } = await this.d.store.ingest(
        {
          kind: 'fall',
          device_id: b.device_id,
          location: b.location ?? this.d.locationDefault,
          event: b.event,
          prob: b.prob,
          ts,
          event_id: b.event_id ?? randomUUID(),
          source: decision?.source ?? 'sensor',
          ...(b.event === 'fall' ? { decided: decision !== undefined } : {}),
          client_id: who.clientId,
        },
        b.event_id,
      );
      const value = { event_id: event.kind === 'fall' ? event.event_id : '' };
      if (b.event === 'fall' && !duplicate) this.d.log.warn({ device_id: b.device_id, event_id: value.event_id, prob: b.prob, decided: decision !== undefined, via: who.via }, 'fall reported by a device');
      return { kind: duplicate ? 'duplicate' : 'stored', value };
    } catch (err) {
      if (before) decider.restore(b.device_id, before);
      return this.failed(err);
    }
  }

  async heartbeat(who: DeviceIdentity, body: unknown): Promise<Outcome<null>> {
    const parsed = HeartbeatSchema.safeParse(body);
    if (!parsed.success) return { kind: 'invalid', problems: zodProblems(parsed.error) };
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
  async imuChunk(who: DeviceIdentity, body: unknown): Promise<Outcome<ImuProcessed>> {
    const inf = this.d.inference.inference;
    if (!inf) return { kind: 'unavailable', error: 'inference_unavailable', description: this.d.inference.unavailable() };
    const parsed = parseImuBody(body, inf.requiresGyro);
    if (!parsed.ok) return { kind: 'invalid', problems: parsed.problems };
    // With the log full, a decided fall could not be stored: nothing is fed until there is room.
    if (this.d.store.full) return { kind: 'backpressure', retryAfterSec: 5 };
    const b = parsed.body;
    let outcome;
    try {
      outcome = await inf.ingest(b.device_id, { t0: b.t0, rateHz: b.rate_hz, acc: b.acc, gyro: b.gyro });
    } catch (err) {
      this.d.log.error({ err, device_id: b.device_id }, 'fall inference failed');
      return { kind: 'unavailable', error: 'inference_failed', description: 'the model could not score this chunk; retry later', retryAfterSec: 5 };
    }
    const recs: FallRec[] = [...(this.owed.get(b.device_id) ?? [])];
    for (const x of outcome.decisions) {
      recs.push({ kind: 'fall', device_id: b.device_id, location: b.location ?? this.d.locationDefault, event: 'fall', prob: round(x.prob), ts: x.ts, event_id: randomUUID(), source: x.source, decided: true, client_id: who.clientId });
      this.d.log.warn({ device_id: b.device_id, ts: x.ts, prob: x.prob, source: x.source, via: who.via }, 'fall decided from IMU stream');
    }
    if (recs.length) {
      try {
        await this.d.store.ingestMany(recs.map((rec) => ({ rec, clientEventId: rec.event_id })));
        this.owed.delete(b.device_id);
      } catch (err) {
        this.owed.set(b.device_id, recs);
        return this.failed(err);
      }
    }
    return { kind: 'stored', value: { accepted: outcome.accepted, falls: recs.map((r) => ({ id: r.event_id, ts: r.ts, prob: r.prob, source: r.source })) } };
  }

  private failed(err: unknown): Outcome<never> {
    const o = storeFailure(err);
    if (o.kind === 'unavailable') this.d.log.error({ err }, 'could not store event');
    return o;
  }
}

const round = (p: number) => Math.round(p * 1e4) / 1e4;
