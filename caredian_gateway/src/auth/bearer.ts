// RFC 6750 bearer-token middleware for protected device routes.
import type { RequestHandler, Response } from 'express';
import { TokenError, type AccessClaims, type TokenService } from './tokens.js';
import type { Scope } from '../config/schema.js';

const REALM = 'caredian';

export interface AuthInfo {
  clientId: string;
  scopes: Set<string>;
  claims: AccessClaims;
}

export function authInfo(res: Response): AuthInfo {
  return res.locals.auth as AuthInfo;
}

function challenge(res: Response, status: number, params: Record<string, string>, body: Record<string, unknown>): void {
  const attrs = Object.entries({ realm: REALM, ...params })
    .map(([k, v]) => `${k}="${v.replace(/["\\]/g, '')}"`)
    .join(', ');
  res.setHeader('WWW-Authenticate', `Bearer ${attrs}`);
  res.status(status).json({ ok: false, ...body });
}

export function requireScope(tokens: TokenService, scope: Scope): RequestHandler {
  return (req, res, next) => {
    const h = req.headers.authorization;
    if (!h) {
      challenge(res, 401, {}, { error: 'unauthorized', error_description: 'missing bearer token' });
      return;
    }
    const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(h);
    if (!m) {
      challenge(res, 400, { error: 'invalid_request', error_description: 'malformed Authorization header' }, { error: 'invalid_request', error_description: 'Authorization must be "Bearer <token>"' });
      return;
    }
    tokens.verify(m[1]!).then(
      (claims) => {
        const scopes = new Set(claims.scope.split(' '));
        if (!scopes.has(scope)) {
          challenge(res, 403, { error: 'insufficient_scope', scope }, { error: 'insufficient_scope', error_description: `token lacks scope ${scope}` });
          return;
        }
        res.locals.auth = { clientId: claims.client_id, scopes, claims } satisfies AuthInfo;
        next();
      },
      (e: unknown) => {
        const why = e instanceof TokenError ? e.message : 'invalid token';
        challenge(res, 401, { error: 'invalid_token', error_description: why }, { error: 'invalid_token', error_description: why });
      },
    );
  };
}
