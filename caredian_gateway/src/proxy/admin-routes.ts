// Admin API for the proxy: POST/GET /api/keys, POST /api/keys/<name>/revoke, GET /api/usage.
import { Router } from 'express';
import { z } from 'zod';
import type { InfluxDB } from 'influx';
import type { Logger } from '../core/logger.js';
import type { EventStore } from '../events/event-store.js';
import { sendError, sendValidationError } from '../http/errors.js';
import { jsonBody } from '../http/json-body.js';
import { SAFE_ID } from '../config/schema.js';
import { KeyNameTaken, type ApiKeyStore } from './api-key-store.js';
import { usageFromInflux, usageFromLog } from './usage.js';

const name = z.string({ error: 'must be a string' }).regex(SAFE_ID, { error: '1-64 characters of A-Z a-z 0-9 . _ : @ -' });
const CreateKeySchema = z.object({ name, upstreams: z.array(name).max(100).optional() }).strict();
const time = z.union([
  z.string().regex(/^\d+(\.\d+)?$/).transform((s) => Number(s) * 1000),
  z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
  z.iso.date().transform((s) => Date.parse(`${s}T00:00:00Z`)),
]);
const UsageQuerySchema = z.object({ since: time.optional(), until: time.optional() });

export function proxyAdminRouter(d: { keys: ApiKeyStore; upstreams: string[]; store: EventStore; influx?: InfluxDB; log: Logger }): Router {
  const r = Router();
  r.get('/keys', (_req, res) => {
    res.json({ keys: d.keys.list() });
  });
  r.post('/keys', ...jsonBody('4kb'), (req, res) => {
    const p = CreateKeySchema.safeParse(req.body);
    if (!p.success) return sendValidationError(res, p.error);
    const unknown = (p.data.upstreams ?? []).filter((u) => !d.upstreams.includes(u));
    if (unknown.length) return sendError(res, 400, 'invalid_request', `unknown upstreams: ${unknown.join(', ')}`);
    try {
      const { key, info } = d.keys.create(p.data.name, p.data.upstreams ?? null);
      d.log.info({ key_name: info.name, upstreams: info.upstreams, by: res.locals.adminUser }, 'API key created');
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json({ ...info, key, note: 'the key is shown only now; store it safely' });
    } catch (e) {
      if (e instanceof KeyNameTaken) return sendError(res, 409, 'conflict', e.message);
      throw e;
    }
  });
  r.post('/keys/:name/revoke', (req, res) => {
    const n = req.params.name;
    if (!d.keys.revoke(n)) return sendError(res, 404, 'not_found', 'no API key with that name');
    d.log.info({ key_name: n, by: res.locals.adminUser }, 'API key revoked');
    res.json({ ok: true, name: n, status: 'REVOKED' });
  });
  r.get('/usage', async (req, res) => {
    const p = UsageQuerySchema.safeParse(req.query);
    if (!p.success) return sendValidationError(res, p.error);
    const q = { sinceMs: p.data.since, untilMs: p.data.until };
    const span = { since: q.sinceMs !== undefined ? new Date(q.sinceMs).toISOString() : null, until: q.untilMs !== undefined ? new Date(q.untilMs).toISOString() : null };
    if (d.influx) {
      try {
        return res.json({ ...span, source: 'influxdb', ...(await usageFromInflux(d.influx, q)) });
      } catch (err) {
        d.log.warn({ reason: (err as Error).message }, 'InfluxDB usage query failed; answering from the event log');
      }
    }
    res.json({ ...span, source: 'event_log', ...usageFromLog(d.store, q) });
  });
  return r;
}
