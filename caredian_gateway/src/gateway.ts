// The composition root: builds every module from the configuration and wires them together.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Config } from './config/schema.js';
import type { Logger } from './core/logger.js';
import { EventBus } from './core/event-bus.js';
import type { GatewayModule } from './core/module.js';
import { VERSION } from './core/version.js';
import { ensureAdminToken } from './core/admin-token.js';
import { ClientStore } from './auth/client-store.js';
import { SigningKeys, addKey } from './auth/signing-keys.js';
import { TokenService } from './auth/tokens.js';
import { tokenRouter, TokenRequestSchema, TokenResponseSchema, type TokenRouteOptions } from './auth/token-route.js';
import { EventLog } from './events/event-log.js';
import { EventStore } from './events/event-store.js';
import { fallEndpoint } from './events/fall-endpoint.js';
import { ErrorSchema, FallEventResponseSchema, FallEventSchema, HeartbeatSchema } from './events/schemas.js';
import { DeviceRegistry } from './devices/registry.js';
import { heartbeatEndpoint } from './devices/heartbeat-endpoint.js';
import { FastPath } from './http/fast-path.js';
import { endpointRouter } from './http/express-endpoint.js';
import { createInfluxClient } from './influx/client.js';
import { InfluxWriter } from './influx/writer.js';
import { createDeviceApp } from './http/device-app.js';
import { createAdminApp } from './admin/admin-app.js';
import { dataRouter } from './admin/data-routes.js';
import { Readiness } from './http/readiness.js';
import { closeServer, listen } from './http/listen.js';
import type { RouteDoc } from './http/openapi.js';
import { ApiKeyStore } from './proxy/api-key-store.js';
import { ProxyHandler } from './proxy/proxy-handler.js';
import { proxyAdminRouter } from './proxy/admin-routes.js';
import { HaClient, haEndpoints } from './ha/ha-client.js';
import { AlertService } from './ha/alerts.js';
import { fallsRouter } from './ha/admin-routes.js';
import { FallInferenceModule } from './inference/inference-module.js';
import { imuEndpoint } from './inference/imu-endpoint.js';
import { ImuEnvelopeSchema, ImuResponseSchema } from './inference/imu-schema.js';

export interface GatewayOptions {
  tokenRoute?: TokenRouteOptions;
}

const RETENTION_SWEEP_MS = 3600_000;

export class Gateway {
  deviceServer?: Server;
  adminServer?: Server;
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly bus: EventBus,
    readonly store: EventStore,
    readonly devices: DeviceRegistry,
    readonly modules: GatewayModule[],
    readonly readiness: Readiness,
    readonly deviceApp: ReturnType<typeof createDeviceApp>,
    readonly fastPath: FastPath,
    readonly proxy: ProxyHandler,
    readonly apiKeys: ApiKeyStore,
    readonly alerts: AlertService | undefined,
    readonly adminApp: ReturnType<typeof createAdminApp>,
    readonly adminToken: string | undefined,
    readonly writer?: InfluxWriter,
  ) {}

  static async create(c: Config, log: Logger, o: GatewayOptions = {}): Promise<Gateway> {
    mkdirSync(c.data_dir, { recursive: true, mode: 0o700 });
    const bus = new EventBus(log);

    const clients = new ClientStore(ClientStore.path(c.data_dir));
    await clients.load(c.cc_clients);
    if (clients.size === 0) log.warn('no OAuth clients configured (CC_CLIENTS_JSON / cc_clients): devices cannot get tokens');
    const keys =
      c.jwt_private_pem_path && c.jwt_public_pem_path
        ? await SigningKeys.fromPemFiles(c.jwt_private_pem_path, c.jwt_public_pem_path, c.jwt_ttl_seconds)
        : await SigningKeys.fromDataDir(c.data_dir, c.jwt_ttl_seconds);
    const tokens = new TokenService(keys, { issuer: c.jwt_iss, audience: c.jwt_aud, ttlSeconds: c.jwt_ttl_seconds });

    const logDir = join(c.data_dir, 'eventlog');
    const store = new EventStore(new EventLog({ dir: logDir, maxBytes: c.event_log_max_mb * 1024 * 1024 }), bus, logDir);
    await store.open();
    const devices = new DeviceRegistry(c.data_dir, bus, log.child({ module: 'devices' }), c.device_offline_after_sec * 1000);

    const influx = createInfluxClient(c);
    const writer = influx
      ? new InfluxWriter(influx, store, log.child({ module: 'influx' }), { database: c.influx_db, measurement: c.influx_measurement, createDatabase: c.influx_create_db, dir: logDir })
      : undefined;
    const haEp = haEndpoints(c);
    const ha = haEp ? new HaClient(haEp, log.child({ module: 'home_assistant' }), { requestTimeoutMs: c.request_timeout_sec * 1000 }) : undefined;
    const alerts = ha
      ? new AlertService(c.data_dir, ha, bus, store, devices, {
          notifyTargets: c.ha_notify_mobile,
          persist: c.ha_notify_persist,
          critical: c.ha_notify_critical,
          cooldownSec: c.fall_cooldown_sec,
          escalateAfterSec: c.escalation_after_sec,
          escalationTiers: c.escalation_targets.map((t) => t.split(',').map((x) => x.trim()).filter(Boolean)),
          escalationMaxSteps: c.escalation_max_steps,
        }, log.child({ module: 'alerts' }))
      : undefined;
    const inference = new FallInferenceModule(c, log.child({ module: 'inference' }));
    const modules: GatewayModule[] = [devices, inference, ...(writer ? [writer] : []), ...(alerts ? [alerts] : []), ...(ha ? [ha] : [])];

    const readiness = new Readiness();
    readiness.add('storage', () => {
      const h = store.log.healthy;
      const full = store.log.full;
      return { ready: h.ok && !full, detail: h.error ?? (full ? 'event log is full (backpressure)' : 'writable'), log_bytes: store.log.sizeBytes, log_max_bytes: store.log.maxBytes };
    });
    readiness.add('influxdb', () => (writer ? writer.status() : { ready: true, detail: 'not configured: events are kept in the embedded event log' }));
    readiness.addModule(inference);
    readiness.add('home_assistant', () => (ha ? ha.status() : { ready: true, detail: 'not configured' }));
    if (alerts) readiness.addModule(alerts);
    readiness.addModule(devices);

    const docs: RouteDoc[] = [
      {
        method: 'post', path: '/auth/cc/token', summary: 'Get an access token (OAuth 2.0 client credentials, RFC 6749 §4.4)',
        description: 'Form body with grant_type=client_credentials and HTTP Basic client authentication, or the JSON body {client_id, client_secret, scope}.',
        body: TokenRequestSchema, bodyType: 'application/x-www-form-urlencoded',
        responses: { 200: { description: 'token', schema: TokenResponseSchema }, 400: { description: 'invalid_request, unsupported_grant_type or invalid_scope' }, 401: { description: 'invalid_client' }, 429: { description: 'too many failed attempts' } },
      },
      {
        method: 'post', path: '/events/fall', summary: 'Report an event (fall, sit, walk, ...) from a device', scope: 'events:fall:ingest',
        description: 'A 200 means the event is stored durably. Retrying with the same event_id within a day is acknowledged without storing twice.',
        body: FallEventSchema,
        responses: { 200: { description: 'stored', schema: FallEventResponseSchema }, 400: { description: 'invalid body', schema: ErrorSchema }, 401: { description: 'missing or invalid token' }, 403: { description: 'insufficient_scope' }, 413: { description: 'body too large' }, 415: { description: 'not JSON' }, 503: { description: 'backlog full or storage failing; retry after Retry-After seconds' } },
      },
      {
        method: 'post', path: '/events/imu', summary: 'Stream raw motion data; the gateway decides falls with its model', scope: 'events:imu:ingest',
        description: 'Chunks of up to 10 s at 10-400 Hz, acceleration in g (gravity included), rotation in deg/s, device frame. Samples follow their own timeline (t0 + i/rate_hz); without t0 a chunk continues the previous one; overlapping samples (a retry) are not fed twice; a gap over 1 s restarts the window. Falls decided while processing the chunk are stored durably before the response lists them.',
        body: ImuEnvelopeSchema,
        responses: { 200: { description: 'processed', schema: ImuResponseSchema }, 400: { description: 'invalid body (lengths, non-finite or implausible values, over 10 s, gyro required by the model)', schema: ErrorSchema }, 401: { description: 'missing or invalid token' }, 403: { description: 'insufficient_scope' }, 413: { description: 'body too large' }, 503: { description: 'inference disabled or unavailable, or storage full; see error' } },
      },
      {
        method: 'post', path: '/devices/heartbeat', summary: 'Device liveness, battery, signal and firmware', scope: 'devices:write',
        body: HeartbeatSchema,
        responses: { 200: { description: 'stored', schema: z.object({ ok: z.literal(true), written: z.literal(1) }) }, 400: { description: 'invalid body', schema: ErrorSchema }, 401: { description: 'missing or invalid token' }, 403: { description: 'insufficient_scope' }, 503: { description: 'retry later' } },
      },
    ];
    const apiKeys = new ApiKeyStore(c.data_dir, log.child({ module: 'proxy' }));
    apiKeys.load(c.api_keys);
    const proxy = new ProxyHandler(c.proxy_upstreams, apiKeys, store, log.child({ module: 'proxy' }));
    docs.push({
      method: 'post', path: '/proxy/{name}', summary: 'Forward a request to an AI upstream (also GET, and /proxy/{name}/{rest})',
      description: 'Authorization: Bearer <API key>. When the upstream requires it, X-Auth-Token is an HS256 JWT signed with the API key with claims bh (base64url SHA-256 of the body), htm, htu, iat, jti. See DOCS.md.',
      responses: { 200: { description: "the upstream's response, streamed" }, 401: { description: 'missing/unknown/revoked key or a failed signature check', schema: ErrorSchema }, 403: { description: 'key not allowed for this upstream' }, 404: { description: 'unknown upstream' }, 413: { description: 'body over the upstream limit' }, 502: { description: 'upstream unreachable' }, 504: { description: 'upstream timeout' } },
    });
    const endpoints = [
      fallEndpoint({ store, locationDefault: c.location_default, log, decider: inference.decider }),
      heartbeatEndpoint({ store, log }),
      imuEndpoint({ store, locationDefault: c.location_default, log, inference: () => inference.inference, unavailable: () => inference.unavailable() }),
    ];
    const fastPath = new FastPath(endpoints, tokens, log);
    const deviceApp = createDeviceApp({
      log,
      version: VERSION,
      allowedOrigins: c.allowed_origins,
      readiness,
      tokens,
      issuer: c.jwt_iss,
      routers: [tokenRouter(clients, tokens, log.child({ module: 'token' }), o.tokenRoute), endpointRouter(endpoints, tokens)],
      docs,
    });

    let adminToken = c.admin_token;
    if (c.mode === 'standalone' && !adminToken) {
      const t = ensureAdminToken(c.data_dir);
      adminToken = t.token;
      log.info({ file: t.path }, t.created ? 'generated an admin token for the admin listener; it is in this file' : 'admin token read from file');
    }
    let gw: Gateway | undefined;
    const adminApp = createAdminApp({
      log,
      mode: c.mode,
      adminToken,
      status: () => gw!.statusReport(),
      routers: [
        dataRouter({
          store, devices, influx, measurement: c.influx_measurement, log,
          rotateSigningKey: c.jwt_private_pem_path
            ? undefined
            : async () => {
                const kid = addKey(SigningKeys.keysDir(c.data_dir));
                await keys.reloadIfChanged();
                return kid;
              },
        }),
        proxyAdminRouter({ keys: apiKeys, upstreams: proxy.upstreamNames, store, influx, log }),
        fallsRouter(alerts),
      ],
    });
    gw = new Gateway(c, log, bus, store, devices, modules, readiness, deviceApp, fastPath, proxy, apiKeys, alerts, adminApp, adminToken, writer);
    if (!c.jwt_private_pem_path) {
      const t = setInterval(() => keys.reloadIfChanged().then((changed) => changed && log.info('signing keys reloaded'), (err: unknown) => log.error({ err }, 'could not reload signing keys')), 10_000);
      t.unref();
      gw.timers.push(t);
    }
    if (!writer) {
      const sweep = () => store.expireBefore(Date.now() - c.event_retention_days * 86400_000);
      const t = setInterval(sweep, RETENTION_SWEEP_MS);
      t.unref();
      gw.timers.push(t);
    }
    return gw;
  }

  statusReport(): Record<string, unknown> {
    const r = this.readiness.evaluate();
    return {
      version: VERSION,
      mode: this.config.mode,
      uptime_s: (Date.now() - this.startedAt) / 1000,
      ready: r.ready,
      checks: r.checks,
      storage: { data_dir: this.config.data_dir, log_bytes: this.store.log.sizeBytes, last_seq: this.store.log.lastCommittedSeq },
    };
  }

  async start(): Promise<void> {
    for (const m of this.modules) await m.start();
    const c = this.config;
    const tls = c.tls_cert && c.tls_key ? { cert: c.tls_cert, key: c.tls_key, ca: c.tls_ca, requireClientCert: c.tls_require_client_cert } : undefined;
    const device = this.deviceApp;
    const fast = this.fastPath;
    const proxy = this.proxy;
    this.deviceServer = await listen((req, res) => proxy.handle(req, res) || fast.handle(req, res) || device(req, res), c.port, c.host, tls);
    this.adminServer = await listen(this.adminApp, c.ingress_port, c.host);
    this.log.info(
      { version: VERSION, mode: c.mode, device_port: this.devicePort, tls: Boolean(tls), mtls: Boolean(tls?.requireClientCert), admin_port: this.adminPort, influx: c.influx_url ? 'configured' : 'embedded event log', data_dir: c.data_dir },
      'CareDian Gateway started',
    );
  }

  get devicePort(): number {
    return (this.deviceServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  get adminPort(): number {
    return (this.adminServer?.address() as AddressInfo | null)?.port ?? 0;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    await Promise.all([closeServer(this.deviceServer), closeServer(this.adminServer)]);
    for (const m of [...this.modules].reverse()) await m.stop();
    await this.apiKeys.flush();
    await this.proxy.close();
    await this.store.close();
  }
}
