import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TlsFiles {
  cert: string;
  key: string;
  ca?: string;
  requireClientCert: boolean;
}

/** Plain HTTP, HTTPS, or HTTPS with required client certificates (mTLS) signed by `ca`. */
export function listen(app: Handler, port: number, host: string, tls?: TlsFiles): Promise<Server> {
  const server: Server = tls
    ? createHttps(
        {
          cert: readFileSync(tls.cert),
          key: readFileSync(tls.key),
          ca: tls.ca ? readFileSync(tls.ca) : undefined,
          requestCert: tls.requireClientCert,
          rejectUnauthorized: tls.requireClientCert,
          minVersion: 'TLSv1.2',
        },
        app,
      )
    : createHttp(app);
  // Devices keep connections open between events; keep idle sockets longer than common client pools.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
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
