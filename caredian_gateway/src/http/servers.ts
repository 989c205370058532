// The two listeners, assembled from what the modules contribute: the device port (raw handlers
// first, then Express with the modules' routes and docs) and the admin (ingress) port.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule } from '../core/module.js';
import { createDeviceApp } from './device-app.js';
import { closeServer, listen } from './listen.js';
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
    log: Logger,
  ) {
    this.raw = modules.flatMap((m) => m.rawHandlers?.() ?? []);
    this.deviceApp = createDeviceApp({ log, version, allowedOrigins: c.allowed_origins, readiness, routers: modules.flatMap((m) => m.deviceRoutes?.() ?? []), docs: modules.flatMap((m) => m.docs?.() ?? []) });
  }

  get tls() {
    const c = this.c;
    return c.tls_cert && c.tls_key ? { cert: c.tls_cert, key: c.tls_key, ca: c.tls_ca, requireClientCert: c.tls_require_client_cert } : undefined;
  }

  async start(): Promise<void> {
    const app = this.deviceApp;
    const raw = this.raw;
    this.device = await listen((req, res) => raw.some((h) => h(req, res)) || app(req, res), this.c.port, this.c.host, this.tls);
    this.admin = await listen(this.adminApp, this.c.ingress_port, this.c.host);
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
