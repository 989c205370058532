// The device listener's app: tokens, device events, health, docs. No admin routes, ever.
import express, { type Express, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { buildOpenApi, renderDocsPage, type RouteDoc } from './openapi.js';
import { jsonErrorHandler, notFound } from './errors.js';
import { requestLog } from './request-log.js';
import { corsFor, securityHeaders } from './security.js';
import type { Readiness } from './readiness.js';
import type { TokenService } from '../auth/tokens.js';
import { KNOWN_SCOPES } from '../config/schema.js';

export interface DeviceAppDeps {
  log: Logger;
  version: string;
  allowedOrigins: string[];
  readiness: Readiness;
  tokens: TokenService;
  issuer: string;
  routers: Router[];
  docs: RouteDoc[];
}

export function createDeviceApp(d: DeviceAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  app.use(requestLog(d.log));
  app.use(securityHeaders());
  app.use(corsFor(d.allowedOrigins));

  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  app.get('/ready', (_req, res) => {
    const r = d.readiness.evaluate();
    res.status(r.ready ? 200 : 503).json({ ok: r.ready, checks: r.checks });
  });
  app.get('/.well-known/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.json(d.tokens.jwksDocument());
  });
  app.get('/.well-known/oauth-authorization-server', (req, res) => {
    const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
    res.json({
      issuer: d.issuer,
      token_endpoint: `${base}/auth/cc/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      scopes_supported: [...KNOWN_SCOPES],
      response_types_supported: [],
    });
  });

  const docs: RouteDoc[] = [
    { method: 'get', path: '/health', summary: 'The process is up', responses: { 200: { description: 'up', schema: z.object({ ok: z.literal(true) }) } } },
    { method: 'get', path: '/ready', summary: 'Storage writable, InfluxDB reachable when configured, model loaded when enabled', responses: { 200: { description: 'ready' }, 503: { description: 'not ready; checks say why' } } },
    { method: 'get', path: '/.well-known/jwks.json', summary: 'Public keys that verify access tokens (RFC 7517)', responses: { 200: { description: 'JWK set' } } },
    { method: 'get', path: '/.well-known/oauth-authorization-server', summary: 'Authorization server metadata (RFC 8414)', responses: { 200: { description: 'metadata' } } },
    ...d.docs,
  ];
  const openapi = buildOpenApi(docs, { title: 'CareDian Gateway device API', version: d.version });
  const docsHtml = renderDocsPage(openapi);
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(docsHtml);
  });

  for (const r of d.routers) app.use(r);
  app.use(notFound);
  app.use(jsonErrorHandler(d.log));
  return app;
}
