// The authenticated AI proxy as a module: API keys, /proxy/<name> forwarding (a raw handler, so
// bodies stream), key management and usage on the admin API.
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus, RawHandler, RouteDoc } from '../core/module.js';
import type { EventStore } from '../events/event-store.js';
import { ErrorSchema } from '../events/schemas.js';
import { ApiKeyStore } from './api-key-store.js';
import { proxyAdminRouter } from './admin-routes.js';
import { ProxyHandler } from './proxy-handler.js';
import { ReplayStore } from './replay-store.js';
import { REPLAY_WINDOW_S } from './signature.js';

export class ProxyModule implements GatewayModule {
  readonly name = 'proxy';
  readonly keys: ApiKeyStore;
  readonly handler: ProxyHandler;
  private readonly replay: ReplayStore;
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
    this.replay = new ReplayStore(join(c.data_dir, 'proxy-replay.log'), REPLAY_WINDOW_S, this.log);
    this.handler = new ProxyHandler(c.proxy_upstreams, this.keys, this.replay, store, this.log);
  }

  async start(): Promise<void> {
    await this.handler.prepare();
    try {
      await this.replay.open();
    } catch (err) {
      // Fall alerts must not depend on the proxy: keep running, and refuse signed requests instead.
      this.log.error({ err }, 'could not open the replay log; signed proxy requests are refused until a restart');
    }
  }

  status(): ModuleStatus {
    const problem = this.replay.problem;
    return { ready: true, upstreams: this.handler.upstreamNames.length, replay_ids: this.replay.entries, ...(problem ? { warning: `signed proxy requests are refused: ${problem}` } : {}) };
  }

  async stop(): Promise<void> {
    await this.keys.flush();
    await this.handler.close();
    await this.replay.close();
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
        responses: { 200: { description: "the upstream's response, streamed" }, 401: { description: 'missing/unknown/revoked key or a failed signature check', schema: ErrorSchema }, 400: { description: 'invalid_path: the path would leave the upstream\'s base path (dot segments, backslashes, encoded slashes or control characters, also double-encoded)', schema: ErrorSchema }, 403: { description: 'key not allowed for this upstream' }, 404: { description: 'unknown upstream' }, 413: { description: 'body over the upstream limit' }, 502: { description: 'upstream unreachable' }, 503: { description: 'replay_store_unavailable: the signed request could not be recorded durably' }, 504: { description: 'upstream timeout' } },
      },
    ];
  }
}
