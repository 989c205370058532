import cors from 'cors';
import helmet from 'helmet';
import type { RequestHandler } from 'express';

export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { directives: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'", "'unsafe-inline'"], imgSrc: ["'self'", 'data:'], connectSrc: ["'self'"], frameAncestors: ["'self'"] } },
    // The admin page is shown inside Home Assistant's ingress iframe.
    frameguard: false,
    strictTransportSecurity: false,
  });
}

/** CORS only for the origins in ALLOWED_ORIGINS; none when the list is empty. */
export function corsFor(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return cors({
    origin: (origin, cb) => cb(null, origin !== undefined && (allowed.has('*') || allowed.has(origin))),
    methods: ['GET', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'X-Request-Id', 'X-Auth-Token'],
    maxAge: 600,
  });
}
