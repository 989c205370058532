// GET /api/events and GET /api/devices on the admin listener.
import { Router } from 'express';
import { z } from 'zod';
import type { InfluxDB } from 'influx';
import type { Logger } from '../core/logger.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { EventStore } from '../events/event-store.js';
import { queryInflux, queryLog } from '../events/event-query.js';
import { safeName } from '../events/schemas.js';
import { sendError, sendValidationError } from '../http/errors.js';

const since = z.union([
  z.string().regex(/^\d+(\.\d+)?$/).transform((s) => Number(s) * 1000),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const EventsQuerySchema = z.object({
  device_id: safeName.optional(),
  since: since.optional(),
  limit: z.string().regex(/^\d{1,4}$/, { error: 'must be a whole number 1-1000' }).transform(Number).pipe(z.number().min(1).max(1000)).optional(),
});

export function dataRouter(d: { store: EventStore; devices: DeviceRegistry; influx?: InfluxDB; measurement: string; log: Logger; rotateSigningKey?: () => Promise<string> }): Router {
  const r = Router();
  r.post('/signing-keys/rotate', async (_req, res) => {
    if (!d.rotateSigningKey) return sendError(res, 409, 'not_managed', 'signing keys come from JWT_PRIVATE_PEM_PATH and are managed outside the gateway');
    const kid = await d.rotateSigningKey();
    d.log.info({ kid, by: res.locals.adminUser }, 'signing key rotated');
    res.json({ ok: true, kid });
  });
  r.get('/devices', (_req, res) => {
    res.json({ devices: d.devices.list() });
  });
  r.get('/events', async (req, res) => {
    const p = EventsQuerySchema.safeParse(req.query);
    if (!p.success) return sendValidationError(res, p.error);
    const q = { deviceId: p.data.device_id, sinceMs: p.data.since, limit: p.data.limit ?? 100 };
    if (d.influx) {
      try {
        return res.json({ source: 'influxdb', events: await queryInflux(d.influx, d.measurement, q) });
      } catch (err) {
        d.log.warn({ reason: (err as Error).message }, 'InfluxDB query failed; answering from the event log');
      }
    }
    res.json({ source: 'event_log', events: queryLog(d.store, q) });
  });
  return r;
}
