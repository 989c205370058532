// The two listeners, assembled from what the modules contribute: the device port (raw handlers
// first, then Express with the modules' routes and docs) and the admin (ingress) port.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule } from '../core/module.js';
import { closeIfBodyUnread } from './close-unread.js';
import { createDeviceApp } from './device-app.js';
import { closeServer, listen, type Handler, type ListenerLimits } from './listen.js';
import type { Readiness } from './readiness.js';

export class Servers {
  device?: Server;
  admin?: Server;
  private readonly deviceApp: Express;
  private readonly raw;

  constructor(
    private readonly c: Config,
    modules: GatewayModule[],
    readiness: Readiness,
    private readonly adminApp: Express,
    version: string,
    private readonly log: Logger,
  ) {
    this.raw = modules.flatMap((m) => m.rawHandlers?.() ?? []);
    this.deviceApp = createDeviceApp({ log, version, allowedOrigins: c.allowed_origins, readiness, routers: modules.flatMap((m) => m.deviceRoutes?.() ?? []), docs: modules.flatMap((m) => m.docs?.() ?? []) });
  }

  get tls() {
    const c = this.c;
    return c.tls_cert && c.tls_key ? { cert: c.tls_cert, key: c.tls_key, ca: c.tls_ca, requireClientCert: c.tls_require_client_cert } : undefined;
  }

  /** The device port's limits; the admin port has no per-address cap (ingress arrives from one address). */
  get limits(): ListenerLimits {
    const c = this.c;
    return {
      maxConnections: c.max_connections,
      maxConnectionsPerAddress: c.max_connections_per_address,
      // Node wants whole milliseconds.
      headersTimeoutMs: Math.round(c.http_headers_timeout_sec * 1000),
      requestTimeoutMs: Math.round(c.http_request_timeout_sec * 1000),
      keepAliveTimeoutMs: Math.round(c.http_keep_alive_timeout_sec * 1000),
    };
  }

  async start(): Promise<void> {
    const app = this.deviceApp;
    const raw = this.raw;
    const c = this.c;
    if (c.http_headers_timeout_sec > c.http_request_timeout_sec)
      this.log.warn({ http_headers_timeout_sec: c.http_headers_timeout_sec, http_request_timeout_sec: c.http_request_timeout_sec }, 'the headers timeout is longer than the request timeout; the request timeout applies to headers too');
    const common = { host: c.host, log: this.log };
    const adminApp = this.adminApp;
    const device: Handler = (req, res) => {
      closeIfBodyUnread(req, res);
      if (!raw.some((h) => h(req, res))) app(req, res);
    };
    const admin: Handler = (req, res) => {
      closeIfBodyUnread(req, res);
      adminApp(req, res);
    };
    this.device = await listen(device, { ...common, name: 'device', port: c.port, limits: this.limits, tls: this.tls });
    this.admin = await listen(admin, { ...common, name: 'admin', port: c.ingress_port, limits: { ...this.limits, maxConnectionsPerAddress: 0 } });
  }

  async stop(): Promise<void> {
    await Promise.all([closeServer(this.device), closeServer(this.admin)]);
  }

  get devicePort(): number {
    return (this.device?.address() as AddressInfo | null)?.port ?? 0;
  }

  get adminPort(): number {
    return (this.admin?.address() as AddressInfo | null)?.port ?? 0;
  }
}
