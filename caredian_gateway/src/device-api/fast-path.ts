// The device ingest endpoints served straight from node:http. Express's router costs ~0.2 ms a
// request on a Raspberry-Pi-class or small VM core, which alone would cap ingest below the
// throughput target (see BENCHMARKS.md); these few hot routes skip it. Same endpoint definitions,
// same token check, same validation as the Express adapter, which serves browser (Origin) requests.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';
import { checkBearer, isAuthFailure, type AuthInfo } from '../auth/bearer.js';
import type { TokenService } from '../auth/tokens.js';
import type { RefusalObserver } from '../ingest/outcomes.js';
import { errorResult, type Endpoint, type EndpointResult } from './endpoint.js';
import { BODY_TOO_LARGE, readBodyLimited } from '../http/read-body.js';
import { logAnswer, requestId } from '../http/request-log.js';
import { RefusalBrake } from './refusal-brake.js';

const JSON_TYPE = /^application\/json\s*(;\s*charset=("?)utf-8\2\s*)?$/i;
const TOO_LARGE = errorResult(BODY_TOO_LARGE.status, BODY_TOO_LARGE.error, BODY_TOO_LARGE.description);
const BASE_HEADERS = {
  'Content-Type': 'application/json; charset=utf-8',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
};


export class FastPath {
  private routes = new Map<string, Endpoint>();
  private onRefused?: RefusalObserver;
  private readonly brake = new RefusalBrake();

  constructor(
    endpoints: Endpoint[],
    private readonly tokens: TokenService,
    private readonly log: Logger,
  ) {
    for (const e of endpoints) this.routes.set(e.path, e);
  }

  /** Counts what the ingest core never sees (the metrics; the core's own outcomes it counts itself). */
  observeRefusals(fn: RefusalObserver): void {
    this.onRefused = fn;
  }

  /** Serves the request and returns true if it is one of the fast routes; false leaves it to Express. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'POST' || req.headers.origin !== undefined) return false;
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const ep = this.routes.get(q < 0 ? url : url.slice(0, q));
    if (!ep) return false;
    const id = requestId(req);
    const started = performance.now();
    this.serve(ep, req, performance.timeOrigin + started).then(
      (r) => this.send(req, res, r, id, started),
      (err: unknown) => {
        this.log.error({ err, reqId: id, url: ep.path }, 'unhandled error');
        this.send(req, res, this.refused(ep, errorResult(500, 'server_error', 'internal error')), id, started);
      },
    );
    return true;
  }

  private async serve(ep: Endpoint, req: IncomingMessage, arrivedAtMs: number): Promise<EndpointResult> {
    const auth = await checkBearer(this.tokens, req.headers.authorization, ep.scope);
    if (isAuthFailure(auth)) return this.refused(ep, { status: auth.status, body: auth.body, headers: auth.headers });
    // A client that keeps being refused waits before its body is read (refusal-brake.ts).
    const go = this.brake.admit(auth.clientId);
    if (go !== true && !(await go)) return this.refused(ep, errorResult(429, 'too_many_refusals', 'this client\'s requests are being refused faster than the gateway answers them; retry later', {}, { 'Retry-After': '1' }));
    const r = await this.authenticated(ep, req, auth, arrivedAtMs);
    if (r.status >= 400 && r.status < 500) this.brake.refused(auth.clientId);
    return r;
  }

  private async authenticated(ep: Endpoint, req: IncomingMessage, auth: AuthInfo, arrivedAtMs: number): Promise<EndpointResult> {
    if (!JSON_TYPE.test(req.headers['content-type'] ?? '')) return this.refused(ep, errorResult(415, 'unsupported_media_type', 'send Content-Type: application/json'));
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return this.refused(ep, errorResult(415, 'unsupported_media_type', 'send the body without Content-Encoding'));
    // Past the limit, declared or while streaming: answer at once; send() closes the connection.
    if (Number(req.headers['content-length'] ?? 0) > ep.limitBytes) return this.refused(ep, TOO_LARGE);
    const raw = await readBodyLimited(req, ep.limitBytes);
    if (raw === undefined) return this.refused(ep, TOO_LARGE);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return this.refused(ep, errorResult(400, 'invalid_request', 'request body is not valid JSON'));
    }
    return ep.handle(body, auth, arrivedAtMs);
  }

  private refused(ep: Endpoint, r: EndpointResult): EndpointResult {
    this.onRefused?.(ep.kind, (r.body as { error: string }).error);
    return r;
  }

  private send(req: IncomingMessage, res: ServerResponse, r: EndpointResult, id: string, started: number): void {
    const payload = JSON.stringify(r.body);
    // A body we refused to read is not read on: Node closes the connection once this answer is out.
    const unread = !req.complete;
    res.writeHead(r.status, { ...BASE_HEADERS, ...r.headers, 'Content-Length': Buffer.byteLength(payload), 'X-Request-Id': id, ...(unread ? { Connection: 'close' } : {}) });
    res.end(payload);
    // Successes are not logged here even at debug: this is the hot path.
    logAnswer(this.log, id, req, r.status, started, false);
  }
}
