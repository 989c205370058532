// The authenticated AI proxy as a module: API keys, /proxy/<name> forwarding (a raw handler, so
// bodies stream), key management and usage on the admin API.
import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, RawHandler, RouteDoc } from '../core/module.js';
import type { EventStore } from '../events/event-store.js';
import { ErrorSchema } from '../events/schemas.js';
import { ApiKeyStore } from './api-key-store.js';
import { proxyAdminRouter } from './admin-routes.js';
import { ProxyHandler } from './proxy-handler.js';

export class ProxyModule implements GatewayModule {
  readonly name = 'proxy';
  readonly keys: ApiKeyStore;
  readonly handler: ProxyHandler;
  private readonly log: Logger;

  constructor(
    c: Config,
    private readonly store: EventStore,
    log: Logger,
    private readonly influx?: InfluxDB,
  ) {
    this.log = log.child({ module: 'proxy' });
    this.keys = new ApiKeyStore(c.data_dir, this.log);
    this.keys.load(c.api_keys);
    this.handler = new ProxyHandler(c.proxy_upstreams, this.keys, store, this.log);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.keys.flush();
    await this.handler.close();
  }

  rawHandlers(): RawHandler[] {
    return [(req, res) => this.handler.handle(req, res)];
  }

  adminRoutes() {
    return [proxyAdminRouter({ keys: this.keys, upstreams: this.handler.upstreamNames, store: this.store, influx: this.influx, log: this.log })];
  }

  docs(): RouteDoc[] {
    return [
      {
        method: 'post', path: '/proxy/{name}', summary: 'Forward a request to an AI upstream (also GET, and /proxy/{name}/{rest})',
        description: 'Authorization: Bearer <API key>. When the upstream requires it, X-Auth-Token is an HS256 JWT signed with the API key with claims bh (base64url SHA-256 of the body), htm, htu, iat, jti. See DOCS.md.',
        responses: { 200: { description: "the upstream's response, streamed" }, 401: { description: 'missing/unknown/revoked key or a failed signature check', schema: ErrorSchema }, 403: { description: 'key not allowed for this upstream' }, 404: { description: 'unknown upstream' }, 413: { description: 'body over the upstream limit' }, 502: { description: 'upstream unreachable' }, 504: { description: 'upstream timeout' } },
      },
    ];
  }
}
