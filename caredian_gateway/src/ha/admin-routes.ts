// GET /api/falls and POST /api/falls/<id>/ack on the admin listener.
import { Router } from 'express';
import type { AdminUser } from '../admin/admin-auth.js';
import { sendError } from '../http/errors.js';
import type { AlertService } from './alerts.js';

export function fallsRouter(alerts: AlertService | undefined): Router {
  const r = Router();
  r.get('/falls', (_req, res) => {
    res.json({ falls: alerts ? alerts.list() : [] });
  });
  r.post('/falls/:id/ack', async (req, res) => {
    if (!alerts) return sendError(res, 409, 'not_configured', 'Home Assistant is not configured, so there are no alerts to acknowledge');
    const u = res.locals.adminUser as AdminUser | undefined;
    const by = u?.displayName ?? u?.name ?? (u?.via === 'token' ? 'admin' : 'admin (ingress)');
    const a = await alerts.acknowledge(req.params.id, by);
    if (!a) return sendError(res, 404, 'not_found', 'no alert with that id');
    const { outbox: _o, ...view } = a;
    res.json({ ok: true, alert: view });
  });
  return r;
}
