// GET /api/falls, POST /api/falls/<id>/ack, POST /api/falls/<id>/cancel and POST /api/test-alert on the admin listener.
// A fall's detail (GET /api/falls/<id>, with the motion around it) is the status page's: admin/status-page.ts.
import { Router } from 'express';
import { sendError } from '../http/errors.js';
import type { AlertView } from '../domain/alerts.js';

export interface AlertActions {
  list(): AlertView[];
  acknowledge(id: string, by: string): Promise<AlertView | undefined>;
  raiseTest(by: string): AlertView;
  cancel(id: string, by: string): Promise<AlertView | undefined>;
}

interface AdminUserLike {
  name?: string;
  displayName?: string;
  via?: string;
}

export function alertRouter(alerts: AlertActions): Router {
  const r = Router();
  r.get('/falls', (_req, res) => {
    res.json({ falls: alerts.list() });
  });
  r.post('/test-alert', (_req, res) => {
    res.json({ ok: true, alert: alerts.raiseTest(adminName(res.locals.adminUser as AdminUserLike | undefined)) });
  });
  // The page's "I'm OK" for the wearer (a caregiver beside them, or the wearer on a tablet).
  r.post('/falls/:id/cancel', async (req, res) => {
    const a = await alerts.cancel(req.params.id, `${adminName(res.locals.adminUser as AdminUserLike | undefined)} for the wearer`);
    if (!a) return sendError(res, 404, 'not_found', 'no alert with that id');
    res.json({ ok: true, alert: a });
  });
  r.post('/falls/:id/ack', async (req, res) => {
    const by = adminName(res.locals.adminUser as AdminUserLike | undefined);
    const a = await alerts.acknowledge(req.params.id, by);
    if (!a) return sendError(res, 404, 'not_found', 'no alert with that id');
    res.json({ ok: true, alert: a });
  });
  return r;
}

function adminName(u: AdminUserLike | undefined): string {
  return u?.displayName ?? u?.name ?? (u?.via === 'token' ? 'admin' : 'admin (ingress)');
}
