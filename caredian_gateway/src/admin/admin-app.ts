// The admin listener (Home Assistant ingress): status page and admin API.
import express, { type Express, type Router } from 'express';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../core/logger.js';
import type { AdminRootRoute } from '../core/module.js';
import { jsonErrorHandler, notFound } from '../http/errors.js';
import { requestLog } from '../http/request-log.js';
import { securityHeaders } from '../http/security.js';
import { adminAuth, scrapeAuth } from './admin-auth.js';

export interface AdminAppDeps {
  log: Logger;
  mode: 'addon' | 'standalone';
  adminToken?: string;
  /** Opens the root routes marked `scrape` (GET /metrics) to `Authorization: Bearer <metrics_token>`. */
  metricsToken?: string;
  status: () => Record<string, unknown>;
  routers: Router[];
  /** GET routes at the root (not under /api), behind the same authentication. */
  rootRoutes?: AdminRootRoute[];
}

const pageDir = join(dirname(fileURLToPath(import.meta.url)), 'page');
const asset = (name: string) => readFileSync(join(pageDir, name), 'utf8');

export function createAdminApp(d: AdminAppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestLog(d.log));
  app.use(securityHeaders());
  // For the container HEALTHCHECK: says only that the process is up, so it needs no credentials.
  app.get('/health', (_req, res) => {
    res.json({ ok: true });
  });
  const auth = adminAuth(d.mode, d.adminToken);
  // The page and its script hold no data; in add-on mode they too are ingress-only.
  const pageGuard = d.mode === 'addon' ? auth : (_req: unknown, _res: unknown, next: () => void) => next();
  const files: [path: string, file: string, type: string][] = [
    ['/', 'index.html', 'html'],
    ['/status.js', 'status.js', 'js'],
    ['/plot.js', 'plot.js', 'js'],
    ['/status.css', 'status.css', 'css'],
  ];
  for (const [path, file, type] of files) {
    const text = asset(file);
    app.get(path, pageGuard, (_req, res) => {
      res.type(type).send(text);
    });
  }
  app.use('/api', auth);
  app.get('/api/status', (_req, res) => {
    res.json(d.status());
  });
  for (const r of d.routers) app.use('/api', r);
  const scrape = scrapeAuth(d.mode, d.adminToken, d.metricsToken);
  for (const r of d.rootRoutes ?? []) app.get(r.path, r.scrape ? scrape : auth, (req, res, next) => void r.handle(req, res).catch(next));
  app.use(notFound);
  app.use(jsonErrorHandler(d.log));
  return app;
}
