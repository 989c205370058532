// The device listener's app: tokens, device events, health, docs. No admin routes, ever.
import express, { type Express, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { RouteDoc } from '../core/module.js';
import { buildOpenApi, renderDocsPage } from './openapi.js';
import { jsonErrorHandler, notFound } from './errors.js';
import { requestLog } from './request-log.js';
import { corsFor, securityHeaders } from './security.js';
import type { Readiness } from './readiness.js';

export interface DeviceAppDeps {
  log: Logger;
  version: string;
  allowedOrigins: string[];
  readiness: Readiness;
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
    // Degraded stays 200: the gateway stores events; a 503 would make a watchdog restart it for nothing.
    res.status(r.ready ? 200 : 503).json({ ok: r.ready, status: r.status, warnings: r.warnings, checks: r.checks });
  });

  const docs: RouteDoc[] = [
    { method: 'get', path: '/health', summary: 'The process is up', responses: { 200: { description: 'up', schema: z.object({ ok: z.literal(true) }) } } },
    { method: 'get', path: '/ready', summary: 'Storage writable, InfluxDB reachable when configured, model loaded when enabled; warnings (status degraded) say what a person must know, such as nobody being alerted', responses: { 200: { description: 'ready (status ok or degraded)' }, 503: { description: 'not ready; checks say why' } } },
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
