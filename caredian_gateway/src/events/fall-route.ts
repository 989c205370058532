// POST /events/fall: the seed's contract, made durable and idempotent.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { jsonBody } from '../http/json-body.js';
import { requireScope, authInfo } from '../auth/bearer.js';
import type { TokenService } from '../auth/tokens.js';
import type { Logger } from '../core/logger.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { sendValidationError } from '../http/errors.js';
import type { EventStore } from './event-store.js';
import { sendIngestFailure } from './ingest-errors.js';
import { FallEventSchema } from './schemas.js';

export interface FallRouteDeps {
  tokens: TokenService;
  store: EventStore;
  devices: DeviceRegistry;
  locationDefault: string;
  log: Logger;
}

export function fallRouter(d: FallRouteDeps): Router {
  const r = Router();
  r.post('/events/fall', requireScope(d.tokens, 'events:fall:ingest'), ...jsonBody('16kb'), async (req, res) => {
    const parsed = FallEventSchema.safeParse(req.body);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const b = parsed.data;
    const { clientId } = authInfo(res);
    d.devices.touch(b.device_id, clientId);
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
          client_id: clientId,
        },
        b.event_id,
      );
      const eventId = event.kind === 'fall' ? event.event_id : '';
      res.json(duplicate ? { ok: true, written: 0, duplicate: true, event_id: eventId } : { ok: true, written: 1, event_id: eventId });
    } catch (err) {
      sendIngestFailure(res, err, d.log);
    }
  });
  return r;
}
