// A feature of the gateway. The composition root lists the modules; each contributes its own
// routes, API docs, readiness checks and timers, and is started in order and stopped in reverse.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Router } from 'express';
import type { z } from 'zod';

export interface GatewayModule {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Contributes to GET /ready and GET /api/status under the module's name. */
  status?(): ModuleStatus;
  /** Routes on the device listener (tokens, device inputs). */
  deviceRoutes?(): Router[];
  /**
   * Raw handlers tried before Express on the device listener, in module order (the fast ingest
   * path, the proxy's streaming). Return true when the request was taken.
   */
  rawHandlers?(): RawHandler[];
  /** Routes under /api on the admin (ingress) listener, behind admin authentication. */
  adminRoutes?(): Router[];
  /** GET routes at the admin listener's root, behind admin authentication (GET /metrics for scrapers). */
  adminRootRoutes?(): AdminRootRoute[];
  /** OpenAPI entries for the device listener's routes. */
  docs?(): RouteDoc[];
}

/** `next` passes a request the handler took (returned true for) on to the handlers after it and Express. */
export type RawHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => boolean;

export interface AdminRootRoute {
  path: string;
  /** Also open to `Authorization: Bearer <metrics_token>` (a Prometheus scraper), not only to admins. */
  scrape?: boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** One route in the device listener's OpenAPI document (built by http/openapi.ts). */
export interface RouteDoc {
  method: 'get' | 'post';
  path: string;
  summary: string;
  description?: string;
  scope?: string;
  body?: z.ZodType;
  bodyType?: string;
  responses: Record<number, { description: string; schema?: z.ZodType }>;
}

export interface ModuleStatus {
  ready: boolean;
  /** Why it is not ready, or a short state description. */
  detail?: string;
  /**
   * Ready, but something a person must know (nobody is alerted, Home Assistant unreachable):
   * /ready reports `degraded` and the status page shows it in plain words, not green.
   */
  warning?: string;
  [k: string]: unknown;
}

/** Intervals a module owns: cleared together on stop. */
export class Timers {
  private handles: NodeJS.Timeout[] = [];

  every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.handles.push(t);
  }

  clear(): void {
    for (const t of this.handles) clearInterval(t);
    this.handles = [];
  }
}

/** Stands in for an optional feature that is not configured, so /ready and the page say so. */
export function notConfigured(name: string, detail = 'not configured'): GatewayModule {
  return { name, start: async () => {}, stop: async () => {}, status: () => ({ ready: true, detail }) };
}
