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
import { closeServer, deviceListenerLimits, deviceTls, listen, type Handler, type ListenerLimits } from './listen.js';
import type { Readiness } from './readiness.js';
import { adoptRelayedPeer } from './relayed-peer.js';

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
    /** Serve the device app on this Unix socket for the device-port workers instead of on the port. */
    private readonly deviceSocket?: string,
  ) {
    this.raw = modules.flatMap((m) => m.rawHandlers?.() ?? []);
    this.deviceApp = createDeviceApp({ log, version, allowedOrigins: c.allowed_origins, readiness, routers: modules.flatMap((m) => m.deviceRoutes?.() ?? []), docs: modules.flatMap((m) => m.docs?.() ?? []) });
  }

  get tls() {
    return deviceTls(this.c);
  }

  get limits(): ListenerLimits {
    return deviceListenerLimits(this.c);
  }

  async start(): Promise<void> {
    const app = this.deviceApp;
    const raw = this.raw;
    const c = this.c;
    if (c.http_headers_timeout_sec > c.http_request_timeout_sec)
      this.log.warn({ http_headers_timeout_sec: c.http_headers_timeout_sec, http_request_timeout_sec: c.http_request_timeout_sec }, 'the headers timeout is longer than the request timeout; the request timeout applies to headers too');
    const common = { host: c.host, log: this.log };
    const adminApp = this.adminApp;
    const serve: Handler = (req, res) => {
      let i = 0;
      const next = (): void => {
        while (i < raw.length) if (raw[i++]!(req, res, next)) return;
        app(req, res);
      };
      next();
    };
    const device: Handler = (req, res) => {
      closeIfBodyUnread(req, res);
      serve(req, res);
    };
    const admin: Handler = (req, res) => {
      closeIfBodyUnread(req, res);
      adminApp(req, res);
    };
    if (this.deviceSocket) {
      // Only the workers connect here; they cap connections, per address too, and terminate TLS.
      // An early answer (413, 401) keeps the relayed connection: the worker stops sending the
      // body once it has the answer, and closes the device's connection itself.
      const relayed: Handler = (req, res) => {
        adoptRelayedPeer(req);
        serve(req, res);
      };
      this.device = await listen(relayed, { ...common, name: 'device (relayed)', port: 0, socketPath: this.deviceSocket, limits: { ...this.limits, maxConnections: 100_000, maxConnectionsPerAddress: 0 } });
    } else this.device = await listen(device, { ...common, name: 'device', port: c.port, limits: this.limits, tls: this.tls });
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
