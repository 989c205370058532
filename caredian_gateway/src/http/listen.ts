import { createServer as createHttp, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';
import { capConnections, type ConnectionCaps } from './connection-limits.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
  requireClientCert: boolean;
}

export interface ListenerLimits extends ConnectionCaps {
  /** From a request's first byte (or the connection's opening) until its headers are in. */
  headersTimeoutMs: number;
  /** From a request's first byte until its body is in; sending the response is not limited. */
  requestTimeoutMs: number;
  /** How long a connection may wait idle for its next request (Node adds a second of grace). */
  keepAliveTimeoutMs: number;
}

export interface ListenOptions {
  port: number;
  host: string;
  limits: ListenerLimits;
  log: Logger;
  /** Names the listener in log lines. */
  name: string;
  tls?: TlsFiles;
}

/** Plain HTTP, HTTPS, or HTTPS with required client certificates (mTLS) signed by `ca`. */
export function listen(app: Handler, o: ListenOptions): Promise<Server> {
  const l = o.limits;
  const headersTimeout = Math.min(l.headersTimeoutMs, l.requestTimeoutMs);
  const http: ServerOptions = {
    headersTimeout,
    requestTimeout: l.requestTimeoutMs,
    keepAliveTimeout: l.keepAliveTimeoutMs,
    // Node looks for expired requests on this period (30 s by default, which would let a
    // half-sent request outlive its timeout by that much).
    connectionsCheckingInterval: Math.round(Math.max(100, Math.min(1000, headersTimeout / 2))),
  };
  const tls = o.tls;
  const server: Server = tls
    ? createHttps(
        {
          ...http,
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          ca: tls.ca ? readFileSync(tls.ca) : undefined,
          requestCert: tls.requireClientCert,
          rejectUnauthorized: tls.requireClientCert,
          minVersion: 'TLSv1.2',
        },
        app,
      )
    : createHttp(http, app);
  capConnections(server, l, o.log, o.name);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

export function closeServer(s: Server | undefined): Promise<void> {
  if (!s) return Promise.resolve();
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeIdleConnections();
    setTimeout(() => s.closeAllConnections(), 2000).unref();
  });
}
