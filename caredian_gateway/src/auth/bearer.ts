// RFC 6750 bearer-token checks for protected device routes (used by Express and the fast path).
import type { RequestHandler, Response } from 'express';
import { TokenError, type AccessClaims, type TokenService } from './tokens.js';
import type { Scope } from '../config/schema.js';

const REALM = 'caredian';

export interface AuthInfo {
  clientId: string;
  scopes: Set<string>;
  claims: AccessClaims;
}

export interface AuthFailure {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

function failure(status: number, params: Record<string, string>, error: string, description: string): AuthFailure {
  const attrs = Object.entries({ realm: REALM, ...params })
    .map(([k, v]) => `${k}="${v.replace(/["\\]/g, '')}"`)
    .join(', ');
  return { status, headers: { 'WWW-Authenticate': `Bearer ${attrs}` }, body: { ok: false, error, error_description: description } };
}

/** Checks an Authorization header for a valid access token carrying `scope`. */
export async function checkBearer(tokens: TokenService, header: string | undefined, scope: Scope): Promise<AuthInfo | AuthFailure> {
  if (!header) return failure(401, {}, 'unauthorized', 'missing bearer token');
  const m = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
  if (!m) return failure(400, { error: 'invalid_request', error_description: 'malformed Authorization header' }, 'invalid_request', 'Authorization must be "Bearer <token>"');
  let claims: AccessClaims;
  try {
    claims = await tokens.verify(m[1]!);
  } catch (e) {
    const why = e instanceof TokenError ? e.message : 'invalid token';
    return failure(401, { error: 'invalid_token', error_description: why }, 'invalid_token', why);
  }
  const scopes = new Set(claims.scope.split(' '));
  if (!scopes.has(scope)) return failure(403, { error: 'insufficient_scope', scope }, 'insufficient_scope', `token lacks scope ${scope}`);
  return { clientId: claims.client_id, scopes, claims };
}

export const isAuthFailure = (r: AuthInfo | AuthFailure): r is AuthFailure => 'status' in r;

export function authInfo(res: Response): AuthInfo {
  return res.locals.auth as AuthInfo;
}

export function requireScope(tokens: TokenService, scope: Scope): RequestHandler {
  return (req, res, next) => {
    checkBearer(tokens, req.headers.authorization, scope).then((r) => {
      if (isAuthFailure(r)) {
        res.set(r.headers).status(r.status).json(r.body);
        return;
      }
      res.locals.auth = r;
      next();
    }, next);
  };
}
