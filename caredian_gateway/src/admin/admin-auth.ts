// Who may use the admin listener: as an add-on, only the Supervisor's ingress proxy; standalone,
// a request with `Authorization: Bearer <ADMIN_TOKEN>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { sendError } from '../http/errors.js';

export const INGRESS_PROXY_IPS = new Set(['172.30.32.2', '::ffff:172.30.32.2']);

export interface AdminUser {
  id?: string;
  name?: string;
  displayName?: string;
  via: 'ingress' | 'token';
}

const digest = (s: string) => createHash('sha256').update(s).digest();
/** The bearer token matches, in constant time (digests of equal length, whatever was sent). */
const bearerIs = (header: string | undefined, expected: Buffer): boolean => {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  return m !== null && timingSafeEqual(digest(m[1]!), expected);
};

export function adminAuth(mode: 'addon' | 'standalone', adminToken: string | undefined): RequestHandler {
  const expected = adminToken ? digest(adminToken) : undefined;
  return (req, res, next) => {
    if (mode === 'addon') {
      if (!INGRESS_PROXY_IPS.has(req.socket.remoteAddress ?? '')) return sendError(res, 403, 'forbidden', 'the admin interface is only reachable through Home Assistant ingress');
      const h = (n: string) => {
        const v = req.headers[n];
        return typeof v === 'string' ? v.slice(0, 128) : undefined;
      };
      res.locals.adminUser = { id: h('x-remote-user-id'), name: h('x-remote-user-name'), displayName: h('x-remote-user-display-name'), via: 'ingress' } satisfies AdminUser;
      return next();
    }
    if (!expected || !bearerIs(req.headers.authorization, expected)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="caredian-admin"');
      return sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <ADMIN_TOKEN>');
    }
    res.locals.adminUser = { via: 'token' } satisfies AdminUser;
    next();
  };
}

/**
 * For the scrape route alone (GET /metrics): `Authorization: Bearer <metrics_token>` opens it in
 * both modes; anything else goes through the admin listener's own authentication. With a metrics
 * token set, an add-on request from outside ingress is answered 401 (send the token), not 403.
 */
export function scrapeAuth(mode: 'addon' | 'standalone', adminToken: string | undefined, metricsToken: string | undefined): RequestHandler {
  const admin = adminAuth(mode, adminToken);
  if (!metricsToken) return admin;
  const expected = digest(metricsToken);
  return (req, res, next) => {
    if (bearerIs(req.headers.authorization, expected)) return next();
    if (mode === 'addon' && !INGRESS_PROXY_IPS.has(req.socket.remoteAddress ?? '')) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="caredian-admin"');
      return sendError(res, 401, 'unauthorized', 'send Authorization: Bearer <metrics_token>');
    }
    return admin(req, res, next);
  };
}
