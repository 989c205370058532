// POST /events/fall: the seed's contract, made durable and idempotent.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger.js';
import { validationResult, type Endpoint } from '../http/endpoint.js';
import type { EventStore } from './event-store.js';
import { ingestFailure } from './ingest-errors.js';
import { FallEventSchema } from './schemas.js';

export interface FallEndpointDeps {
  store: EventStore;
  locationDefault: string;
  log: Logger;
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
      try {
        const { event, duplicate } = await d.store.ingest(
          {
            kind: 'fall',
            device_id: b.device_id,
            location: b.location ?? d.locationDefault,
            event: b.event,
            prob: b.prob,
            ts: b.ts ?? Date.now() / 1000,
            event_id: b.event_id ?? randomUUID(),
            source: 'sensor',
            client_id: auth.clientId,
          },
          b.event_id,
        );
        const eventId = event.kind === 'fall' ? event.event_id : '';
        return { status: 200, body: duplicate ? { ok: true, written: 0, duplicate: true, event_id: eventId } : { ok: true, written: 1, event_id: eventId } };
      } catch (err) {
        return ingestFailure(err, d.log);
      }
    },
  };
}
