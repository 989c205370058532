// POST /devices/heartbeat: liveness and battery/RSSI/firmware, stored like any event.
import type { Logger } from '../core/logger.js';
import type { EventStore } from '../events/event-store.js';
import { ingestFailure } from '../events/ingest-errors.js';
import { HeartbeatSchema } from '../events/schemas.js';
import { validationResult, type Endpoint } from '../http/endpoint.js';

export function heartbeatEndpoint(d: { store: EventStore; log: Logger }): Endpoint {
  return {
    method: 'POST',
    path: '/devices/heartbeat',
    scope: 'devices:write',
    limitBytes: 4 * 1024,
    async handle(body, auth) {
      const parsed = HeartbeatSchema.safeParse(body);
      if (!parsed.success) return validationResult(parsed.error);
      try {
        await d.store.ingest({ kind: 'heartbeat', ...parsed.data, client_id: auth.clientId, ts: Date.now() / 1000 });
        return { status: 200, body: { ok: true, written: 1 } };
      } catch (err) {
        return ingestFailure(err, d.log);
      }
    },
  };
}
