// POST /alerts/{alert_id}/cancel on the device port: the wearer's "I'm OK", with the device's own
// token. Only a client that owns the alert's device may cancel it (admins cancel from the admin API).
import { Router } from 'express';
import { z } from 'zod';
import { checkBearer, isAuthFailure, type AuthFailure, type AuthInfo } from '../auth/bearer.js';
import type { TokenService } from '../auth/tokens.js';
import type { GatewayModule, RouteDoc } from '../core/module.js';
import type { AlertView } from '../domain/alerts.js';
import { sendError } from '../http/errors.js';

export interface CancelDeps {
  tokens: TokenService;
  alerts: { get(id: string): AlertView | undefined; cancel(id: string, by: string): Promise<AlertView | undefined> };
  owns: (clientId: string, deviceId: string) => boolean;
}

const ALERT_ID = /^[A-Za-z0-9._:-]{1,80}$/;

export class AlertCancelModule implements GatewayModule {
  readonly name = 'alert_cancel';
  constructor(private readonly d: CancelDeps) {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  deviceRoutes(): Router[] {
    const r = Router();
    r.post('/alerts/:id/cancel', async (req, res) => {
      const auth = await this.auth(req.headers.authorization);
      if (isAuthFailure(auth)) return void res.set(auth.headers).status(auth.status).json(auth.body);
      const id = req.params.id;
      if (!ALERT_ID.test(id)) return sendError(res, 400, 'invalid_request', 'alert_id: 1-80 characters of A-Z a-z 0-9 . _ : -');
      const a = this.d.alerts.get(id);
      if (!a || !this.d.owns(auth.clientId, a.device_id)) return sendError(res, a ? 403 : 404, a ? 'device_not_allowed' : 'not_found', a ? 'this client may not speak for the device of that alert' : 'no alert with that id');
      const after = await this.d.alerts.cancel(id, `the wearer (${a.device_id})`);
      res.json({ ok: true, alert: { id, state: after?.state, cancelled_by_wearer: after?.cancelled_by_wearer ?? false } });
    });
    return [r];
  }

  docs(): RouteDoc[] {
    return [
      {
        method: 'post',
        path: '/alerts/{alert_id}/cancel',
        summary: "The wearer's \"I'm OK\": cancels a pending fall alert (nobody is disturbed) or resolves one that already went out",
        scope: 'events:fall:ingest or events:imu:ingest',
        responses: {
          200: { description: 'cancelled (state cancelled) or resolved (state acknowledged)', schema: z.object({ ok: z.literal(true), alert: z.object({ id: z.string(), state: z.string(), cancelled_by_wearer: z.boolean() }) }) },
          401: { description: 'missing or invalid token' },
          403: { description: 'device_not_allowed: the token does not own the alert\'s device' },
          404: { description: 'no such alert' },
        },
      },
    ];
  }

  /** A device token with either device scope that sends falls (a fall reporter or a motion streamer). */
  private async auth(header: string | undefined): Promise<AuthInfo | AuthFailure> {
    const r = await checkBearer(this.d.tokens, header, 'events:fall:ingest');
    if (!isAuthFailure(r) || r.status !== 403) return r;
    return checkBearer(this.d.tokens, header, 'events:imu:ingest');
  }
}
