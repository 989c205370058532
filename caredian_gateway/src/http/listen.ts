import { createServer as createHttp, type Server, type ServerOptions } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { chmodSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config/schema.js';
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
  /** A Unix socket path instead of host and port (made 0600; a stale one is replaced). */
  socketPath?: string;
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
    const done = () => {
      server.off('error', reject);
      if (o.socketPath) chmodSync(o.socketPath, 0o600);
      resolve(server);
    };
    if (o.socketPath) {
      rmSync(o.socketPath, { force: true });
      server.listen(o.socketPath, done);
    } else server.listen(o.port, o.host, done);
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

export function deviceTls(c: Config): TlsFiles | undefined {
  return c.tls_cert && c.tls_key ? { cert: c.tls_cert, key: c.tls_key, ca: c.tls_ca, requireClientCert: c.tls_require_client_cert } : undefined;
}

/** The device port's limits; the admin port has no per-address cap (ingress arrives from one address). */
export function deviceListenerLimits(c: Config): ListenerLimits {
  return {
    maxConnections: c.max_connections,
    maxConnectionsPerAddress: c.max_connections_per_address,
    // Node wants whole milliseconds.
    headersTimeoutMs: Math.round(c.http_headers_timeout_sec * 1000),
    requestTimeoutMs: Math.round(c.http_request_timeout_sec * 1000),
    keepAliveTimeoutMs: Math.round(c.http_keep_alive_timeout_sec * 1000),
  };
}
