// POST /devices/heartbeat: liveness and battery/RSSI/firmware, stored like any event.
import { Router } from 'express';
import { jsonBody } from '../http/json-body.js';
import { requireScope, authInfo } from '../auth/bearer.js';
import type { TokenService } from '../auth/tokens.js';
import type { Logger } from '../core/logger.js';
import type { EventStore } from '../events/event-store.js';
import { sendIngestFailure } from '../events/ingest-errors.js';
import { HeartbeatSchema } from '../events/schemas.js';
import { sendValidationError } from '../http/errors.js';
import type { DeviceRegistry } from './registry.js';

export function heartbeatRouter(d: { tokens: TokenService; store: EventStore; devices: DeviceRegistry; log: Logger }): Router {
  const r = Router();
  r.post('/devices/heartbeat', requireScope(d.tokens, 'devices:write'), ...jsonBody('4kb'), async (req, res) => {
    const parsed = HeartbeatSchema.safeParse(req.body);
    if (!parsed.success) return sendValidationError(res, parsed.error);
    const { clientId } = authInfo(res);
    d.devices.touch(parsed.data.device_id, clientId);
    try {
      await d.store.ingest({ kind: 'heartbeat', ...parsed.data, client_id: clientId, ts: Date.now() / 1000 });
      res.json({ ok: true, written: 1 });
    } catch (err) {
      sendIngestFailure(res, err, d.log);
    }
  });
  return r;
}
