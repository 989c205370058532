// /proxy/<name>[/<rest>]: API key, optional signed body, then the exact raw bytes forwarded to the
// upstream and its response streamed back. Served from node:http directly, like the ingest fast path.
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import type { Pool } from 'undici';

type Undici = typeof import('undici');
import type { UpstreamConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { EventStore } from '../events/event-store.js';
import type { ApiKeyStore, KeyMatch } from './api-key-store.js';
import { verifySignedRequest, type ReplayGuard } from './signature.js';
import { checkForwardPath } from './forward-path.js';
import { hopByHopNames } from './hop-by-hop.js';
import { readBodyLimited } from '../http/read-body.js';

// Never forwarded upstream: the client's credentials for this gateway.
const CREDENTIALS = new Set(['authorization', 'x-auth-token', 'cookie']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;

interface Route {
  upstream: UpstreamConfig;
  origin: string;
  /** The upstream's base path followed by the rest of the path and the query, both as sent. */
  path: string;
}

interface Upstream {
  config: UpstreamConfig;
  origin: string;
  /** Without a trailing slash. */
  basePath: string;
  baseSearch: string;
}

export class ProxyHandler {
  private upstreams = new Map<string, Upstream>();
  /** One keep-alive connection pool per upstream origin (undici: far less per-request work than node:http's client). */
  private readonly pools = new Map<string, Pool>();
  /** Loaded by prepare() when an upstream is configured: a gateway without one does not carry undici. */
  private undici?: Undici;

  constructor(
    upstreams: UpstreamConfig[],
    private readonly keys: ApiKeyStore,
    private readonly replay: ReplayGuard,
    private readonly store: EventStore,
    private readonly log: Logger,
  ) {
    for (const u of upstreams) {
      const base = new URL(u.url);
      this.upstreams.set(u.name, { config: u, origin: base.origin, basePath: base.pathname.replace(/\/$/, ''), baseSearch: base.search });
    }
  }

  async prepare(): Promise<void> {
    if (this.upstreams.size) this.undici = await import('undici');
  }

  get upstreamNames(): string[] {
    return [...this.upstreams.keys()];
  }

  /** True if the request is for /proxy/...; the handler then owns the response. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = req.url ?? '';
    if (!url.startsWith('/proxy/')) return false;
    this.serve(req, res, url).catch((err: unknown) => {
      this.log.error({ err }, 'proxy error');
      if (!res.headersSent) send(res, 500, 'server_error', 'internal error');
      else res.destroy();
    });
    return true;
  }

  /**
   * The upstream and the exact path to send it. The path is never re-parsed as a URL (that would
   * resolve `.%2e` and backslashes): it is the base path plus the rest as sent, once checked.
   */
  private route(url: string): Route | { status: 404 | 400; error: string; description: string } {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q);
    const m = /^\/proxy\/([^/]+)(\/.*)?$/.exec(path);
    const upstream = m && NAME.test(m[1]!) ? this.upstreams.get(m[1]!) : undefined;
    if (!upstream) return { status: 404, error: 'unknown_upstream', description: 'no upstream with that name' };
    const rest = m![2] ?? '';
    const check = checkForwardPath(rest);
    if (!check.ok) return { status: 400, error: 'invalid_path', description: `${check.why}; the path must stay under the upstream's base path` };
    return { upstream: upstream.config, origin: upstream.origin, path: upstream.basePath + rest + (query || upstream.baseSearch) };
  }

  private async serve(req: IncomingMessage, res: ServerResponse, url: string): Promise<void> {
    const started = performance.now();
    const startedMs = Date.now();
    const route = this.route(url);
    if (!('upstream' in route)) {
      req.resume();
      send(res, route.status, route.error, route.description);
      return;
    }
    const method = req.method ?? 'GET';
    if (!METHODS.has(method)) {
      req.resume();
      send(res, 405, 'method_not_allowed', `${method} is not proxied`);
      return;
    }
    const presented = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!presented) {
      req.resume();
      send(res, 401, 'missing_api_key', 'send Authorization: Bearer <API key>', { 'WWW-Authenticate': 'Bearer realm="caredian-proxy"' });
      return;
    }
    const key = this.keys.match(presented);
    if (!key) {
      req.resume();
      send(res, 401, 'unknown_api_key', 'the API key is not known', { 'WWW-Authenticate': 'Bearer realm="caredian-proxy", error="invalid_token"' });
      return;
    }
    const usage = (status: number, reqBytes: number, resBytes: number, error: boolean) =>
      this.record(key, route.upstream.name, method, url.split('?')[0]!, status, reqBytes, resBytes, performance.now() - started, error, startedMs);
    if (key.status === 'REVOKED') {
      req.resume();
      usage(401, 0, send(res, 401, 'revoked_api_key', 'this API key was revoked', { 'WWW-Authenticate': 'Bearer realm="caredian-proxy", error="invalid_token"' }), true);
      return;
    }
    if (key.upstreams && !key.upstreams.includes(route.upstream.name)) {
      req.resume();
      usage(403, 0, send(res, 403, 'upstream_not_allowed', 'this API key may not use this upstream'), true);
      return;
    }
    const limit = route.upstream.max_body_bytes;
    const tooLarge = (read: number) => usage(413, read, send(res, 413, 'body_too_large', `the body is larger than ${limit} bytes`, { Connection: 'close' }, () => req.resume()), true);
    if (Number(req.headers['content-length'] ?? 0) > limit) return tooLarge(0);
    const body = await readBodyLimited(req, limit);
    if (!body) return tooLarge(limit);
    if (route.upstream.require_signature) {
      const token = req.headers['x-auth-token'];
      let v: Awaited<ReturnType<typeof verifySignedRequest>>;
      try {
        v = await verifySignedRequest(typeof token === 'string' ? token : undefined, key.secret, key.name, { body, method, pathAndQuery: url }, this.replay);
      } catch (err) {
        // The one-time id could not be made durable: refuse rather than risk a replay after a restart.
        this.log.error({ err }, 'could not record a signed request id');
        usage(503, body.length, send(res, 503, 'replay_store_unavailable', 'the request could not be recorded against replay; try again with a new jti'), true);
        return;
      }
      if (!v.ok) {
        usage(401, body.length, send(res, 401, v.reason, v.description), true);
        return;
      }
    }
    this.keys.touch(key.name);
    this.forward(req, res, route, body, (status, resBytes, failed) => usage(status, body.length, resBytes, failed || status >= 400));
  }

  private pool(origin: string): Pool {
    let p = this.pools.get(origin);
    if (!p) this.pools.set(origin, (p = new this.undici!.Pool(origin, { connections: 128, keepAliveTimeout: 60_000 })));
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
  }

  private forward(req: IncomingMessage, res: ServerResponse, route: Route, body: Buffer, done: (status: number, resBytes: number, failed: boolean) => void): void {
    const { upstream } = route;
    const hop = hopByHopNames(req.headers.connection);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (hop.has(k) || CREDENTIALS.has(k) || k === 'host' || k === 'content-length' || v === undefined) continue;
      headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    const prior = hop.has('x-forwarded-for') ? undefined : req.headers['x-forwarded-for'];
    headers['x-forwarded-for'] = prior ? `${String(prior)}, ${req.socket.remoteAddress ?? ''}` : (req.socket.remoteAddress ?? '');
    headers['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
    if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
    let finished = false;
    const finish = (status: number, resBytes: number, failed: boolean) => {
      if (finished) return;
      finished = true;
      done(status, resBytes, failed);
    };
    this.pool(route.origin)
      .request({
        origin: route.origin,
        path: route.path,
        method: req.method as 'POST',
        headers,
        body,
        // Until the response headers: the upstream's timeout. Then the same as the longest silence.
        headersTimeout: upstream.timeout_ms,
        bodyTimeout: upstream.timeout_ms,
      })
      .then(
        ({ statusCode, headers: upHeaders, body: upBody }) => {
          const out: OutgoingHttpHeaders = {};
          const upHop = hopByHopNames(upHeaders.connection);
          for (const [k, v] of Object.entries(upHeaders)) if (!upHop.has(k) && v !== undefined) out[k] = v;
          res.writeHead(statusCode, out);
          let bytes = 0;
          upBody.on('data', (c: Buffer) => (bytes += c.length));
          upBody.on('error', () => {
            res.destroy();
            finish(statusCode, bytes, true);
          });
          res.on('close', () => {
            // The client went away mid-response: stop reading from the upstream.
            if (!res.writableFinished) upBody.destroy();
            finish(statusCode, bytes, !res.writableFinished);
          });
          upBody.pipe(res);
        },
        (err: unknown) => {
          if (res.headersSent || res.destroyed) return finish(499, 0, true);
          const e = this.undici!.errors;
          if (err instanceof e.HeadersTimeoutError || err instanceof e.BodyTimeoutError) {
            return finish(504, send(res, 504, 'upstream_timeout', `the upstream did not answer within ${upstream.timeout_ms} ms`), true);
          }
          this.log.warn({ upstream: upstream.name, reason: (err as { code?: string }).code ?? (err as Error).message }, 'upstream unreachable');
          finish(502, send(res, 502, 'upstream_unreachable', 'the upstream could not be reached'), true);
        },
      );
  }

  private record(key: KeyMatch, upstream: string, method: string, path: string, status: number, reqBytes: number, resBytes: number, ms: number, error: boolean, startedMs: number): void {
    this.store
      .ingest({ kind: 'usage', device_id: `apikey:${key.name}`, key: key.name, upstream, method, path, status, request_bytes: reqBytes, response_bytes: resBytes, duration_ms: Math.round(ms * 1000) / 1000, error: error ? 1 : 0, ts: startedMs / 1000 })
      .catch((err: unknown) => this.log.error({ err, key: key.name }, 'could not store a usage record'));
  }
}

/** Sends a JSON error; returns the body's size, which counts as response bytes in usage. */
function send(res: ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}, after?: () => void): number {
  const payload = JSON.stringify({ ok: false, error, error_description: description });
  const size = Buffer.byteLength(payload);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': size, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(payload, after);
  return size;
}
