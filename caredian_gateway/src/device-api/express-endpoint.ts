import { Router } from 'express';
import { authInfo, requireScope } from '../auth/bearer.js';
import type { TokenService } from '../auth/tokens.js';
import type { Endpoint } from './endpoint.js';
import { jsonBody } from '../http/json-body.js';

/** Serves endpoints through Express (requests the fast path leaves alone, e.g. with CORS). */
export function endpointRouter(endpoints: Endpoint[], tokens: TokenService): Router {
  const r = Router();
  for (const ep of endpoints) {
    r.post(ep.path, requireScope(tokens, ep.scope), ...jsonBody(ep.limitBytes), async (req, res) => {
      const out = await ep.handle(req.body, authInfo(res));
      res.set({ 'Cache-Control': 'no-store', ...out.headers }).status(out.status).json(out.body);
    });
  }
  return r;
}
