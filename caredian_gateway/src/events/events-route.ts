// GET /api/events on the admin listener.
import { Router } from 'express';
import { z } from 'zod';
import type { InfluxDB } from 'influx';
import type { Logger } from '../core/logger.js';
import { sendValidationError } from '../http/errors.js';
import type { EventStore } from './event-store.js';
import { queryInflux, queryLog } from './event-query.js';
import { safeName } from './schemas.js';

const since = z.union([
  z.string().regex(/^\d+(\.\d+)?$/).transform((s) => Number(s) * 1000),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
]);
const EventsQuerySchema = z.object({
  device_id: safeName.optional(),
  since: since.optional(),
  limit: z.string().regex(/^\d{1,4}$/, { error: 'must be a whole number 1-1000' }).transform(Number).pipe(z.number().min(1).max(1000)).optional(),
});

export function eventsRouter(d: { store: EventStore; influx?: InfluxDB; measurement: string; log: Logger }): Router {
  const r = Router();
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
