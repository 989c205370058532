// POST /events/fall: the seed's contract, made durable and idempotent.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { validationResult, type Endpoint } from '../http/endpoint.js';
import type { EventStore } from './event-store.js';
import { ingestFailure } from './ingest-errors.js';
import { FallEventSchema } from './schemas.js';
import type { FallDecider } from '../inference/fall-decider.js';

export interface FallEndpointDeps {
  store: EventStore;
  locationDefault: string;
  log: Logger;
  /** The decision policy a device-reported fall goes through (FALL_DECISION_MODE, cooldown). */
  decider: FallDecider;
}

export function fallEndpoint(d: FallEndpointDeps): Endpoint {
  return {
    method: 'POST',
    path: '/events/fall',
    scope: 'events:fall:ingest',
    limitBytes: 16 * 1024,
    async handle(body, auth) {
      const parsed = FallEventSchema.safeParse(body);
      if (!parsed.success) return validationResult(parsed.error);
      const b = parsed.data;
      const ts = b.ts ?? Date.now() / 1000;
      // The sensor's vote. Undone if the event cannot be stored, so the device's retry is judged afresh.
      const before = b.event === 'fall' ? d.decider.snapshot(b.device_id) : undefined;
      const decision = b.event === 'fall' ? d.decider.onSensorFall(b.device_id, ts, b.prob) : undefined;
      try {
        const { event, duplicate } = await d.store.ingest(
          {
            kind: 'fall',
            device_id: b.device_id,
            location: b.location ?? d.locationDefault,
            event: b.event,
            prob: b.prob,
            ts,
            event_id: b.event_id ?? randomUUID(),
            source: decision?.source ?? 'sensor',
            ...(b.event === 'fall' ? { decided: decision !== undefined } : {}),
            client_id: auth.clientId,
          },
          b.event_id,
        );
        const eventId = event.kind === 'fall' ? event.event_id : '';
        return { status: 200, body: duplicate ? { ok: true, written: 0, duplicate: true, event_id: eventId } : { ok: true, written: 1, event_id: eventId } };
      } catch (err) {
        if (before) d.decider.restore(b.device_id, before);
        return ingestFailure(err, d.log);
      }
    },
  };
}
