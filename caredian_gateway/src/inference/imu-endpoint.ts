// POST /events/imu: raw IMU chunks in, decided falls out. A decided fall is stored durably (like a
// device-reported one, with source model or both) before the response names it. If storing fails,
// the fall is kept and stored with the device's next chunk, since the retried samples are not fed
// to the model twice.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { errorResult, type Endpoint } from '../http/endpoint.js';
import type { EventStore } from '../events/event-store.js';
import type { NewRecord } from '../events/types.js';
import { ingestFailure } from '../events/ingest-errors.js';
import { BackpressureError } from '../events/event-log.js';
import type { FallInference } from './fall-inference.js';
import { IMU_LIMIT_BYTES, parseImuBody } from './imu-schema.js';

export interface ImuEndpointDeps {
  store: EventStore;
  locationDefault: string;
  log: Logger;
  /** Undefined when inference is off or the model could not be loaded (`unavailable` says which). */
  inference: () => FallInference | undefined;
  unavailable: () => string;
}

type FallRec = NewRecord & { kind: 'fall' };

export function imuEndpoint(d: ImuEndpointDeps): Endpoint {
  const owed = new Map<string, FallRec[]>();
  return {
    method: 'POST',
    path: '/events/imu',
    scope: 'events:imu:ingest',
    limitBytes: IMU_LIMIT_BYTES,
    async handle(body, auth) {
      const inf = d.inference();
      if (!inf) return errorResult(503, 'inference_unavailable', d.unavailable());
      const parsed = parseImuBody(body, inf.requiresGyro);
      if (!parsed.ok) return errorResult(400, 'invalid_request', parsed.problems.join('; '), { problems: parsed.problems });
      // With the log full, a decided fall could not be stored: nothing is fed until there is room.
      if (d.store.log.full) return ingestFailure(new BackpressureError(5), d.log);
      const b = parsed.body;
      let outcome;
      try {
        outcome = await inf.ingest(b.device_id, { t0: b.t0, rateHz: b.rate_hz, acc: b.acc, gyro: b.gyro });
      } catch (err) {
        d.log.error({ err, device_id: b.device_id }, 'fall inference failed');
        return errorResult(503, 'inference_failed', 'the model could not score this chunk; retry later', {}, { 'Retry-After': '5' });
      }
      const recs: FallRec[] = [...(owed.get(b.device_id) ?? [])];
      for (const x of outcome.decisions) {
        recs.push({ kind: 'fall', device_id: b.device_id, location: b.location ?? d.locationDefault, event: 'fall', prob: round(x.prob), ts: x.ts, event_id: randomUUID(), source: x.source, decided: true, client_id: auth.clientId });
        d.log.warn({ device_id: b.device_id, ts: x.ts, prob: x.prob, source: x.source }, 'fall decided from IMU stream');
      }
      if (recs.length) {
        try {
          await d.store.ingestMany(recs.map((rec) => ({ rec, clientEventId: rec.event_id })));
          owed.delete(b.device_id);
        } catch (err) {
          owed.set(b.device_id, recs);
          return ingestFailure(err, d.log);
        }
      }
      return { status: 200, body: { ok: true, accepted: outcome.accepted, falls: recs.map((r) => ({ id: r.event_id, ts: r.ts, prob: r.prob, source: r.source })) } };
    },
  };
}

const round = (p: number) => Math.round(p * 1e4) / 1e4;
