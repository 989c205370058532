// Device authentication as a module: OAuth clients, signing keys (reloaded when rotated), the
// token endpoint, JWKS and RFC 8414 metadata, and key rotation from the admin API.
import { Router } from 'express';
import type { Config } from '../config/schema.js';
import { KNOWN_SCOPES } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { Timers, type GatewayModule, type RawHandler, type RouteDoc } from '../core/module.js';
import { sendError } from '../http/errors.js';
import { ClientStore } from './client-store.js';
import { SigningKeys, addKey } from './signing-keys.js';
import { TokenService } from './tokens.js';
import { TokenAdmission } from './token-admission.js';
import { tokenRouter, TokenRequestSchema, TokenResponseSchema, type TokenRouteOptions } from './token-route.js';

const KEY_RELOAD_MS = 10_000;

export class AuthModule implements GatewayModule {
  readonly name = 'auth';
  private readonly timers = new Timers();
  readonly admission: TokenAdmission;

  static async create(c: Config, log: Logger, tokenRoute?: TokenRouteOptions): Promise<AuthModule> {
    const clients = new ClientStore(ClientStore.path(c.data_dir), { maxQueue: tokenRoute?.hashQueue });
    await clients.load(c.cc_clients);
    if (clients.size === 0) log.warn('no OAuth clients configured (CC_CLIENTS_JSON / cc_clients): devices cannot get tokens');
    const keys = await SigningKeys.forConfig(c);
    const tokens = new TokenService(keys, { issuer: c.jwt_iss, audience: c.jwt_aud, ttlSeconds: c.jwt_ttl_seconds });
    return new AuthModule(c, log.child({ module: 'token' }), clients, keys, tokens, tokenRoute);
  }

  private constructor(
    private readonly c: Config,
    private readonly log: Logger,
    readonly clients: ClientStore,
    private readonly keys: SigningKeys,
    readonly tokens: TokenService,
    private readonly tokenRoute?: TokenRouteOptions,
  ) {
    this.admission = new TokenAdmission(tokenRoute?.admission);
  }

  /** Keys from JWT_PRIVATE_PEM_PATH are managed outside the gateway; its own are reloaded when rotated. */
  private get managesKeys(): boolean {
    return !this.c.jwt_private_pem_path;
  }

  async start(): Promise<void> {
    if (this.managesKeys)
      this.timers.every(KEY_RELOAD_MS, () => {
        this.keys.reloadIfChanged().then((changed) => changed && this.log.info('signing keys reloaded'), (err: unknown) => this.log.error({ err }, 'could not reload signing keys'));
      });
  }

  async stop(): Promise<void> {
    this.timers.clear();
    this.admission.close();
    await this.clients.close();
  }

  deviceRoutes(): Router[] {
    const r = Router();
    r.get('/.well-known/jwks.json', (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=300');
      res.json(this.tokens.jwksDocument());
    });
    r.get('/.well-known/oauth-authorization-server', (req, res) => {
      const base = `${req.protocol}://${req.get('host') ?? 'localhost'}`;
      res.json({
        issuer: this.c.jwt_iss,
        token_endpoint: `${base}/auth/cc/token`,
        jwks_uri: `${base}/.well-known/jwks.json`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        scopes_supported: [...KNOWN_SCOPES],
        response_types_supported: [],
      });
    });
    return [r, tokenRouter(this.clients, this.tokens, this.log, this.tokenRoute, (address) => this.admission.trust(address))];
  }

  /** Token requests are let in at a bounded rate, in turns over addresses, before Express sees them. */
  rawHandlers(): RawHandler[] {
    return [(req, res, next) => this.admission.handle(req, res, next)];
  }

  adminRoutes(): Router[] {
    const r = Router();
    r.post('/signing-keys/rotate', async (_req, res) => {
      if (!this.managesKeys) return sendError(res, 409, 'not_managed', 'signing keys come from JWT_PRIVATE_PEM_PATH and are managed outside the gateway');
      const kid = addKey(SigningKeys.keysDir(this.c.data_dir));
      await this.keys.reloadIfChanged();
      this.log.info({ kid, by: res.locals.adminUser }, 'signing key rotated');
      res.json({ ok: true, kid });
    });
    return [r];
  }

  docs(): RouteDoc[] {
    return [
      { method: 'get', path: '/.well-known/jwks.json', summary: 'Public keys that verify access tokens (RFC 7517)', responses: { 200: { description: 'JWK set' } } },
      { method: 'get', path: '/.well-known/oauth-authorization-server', summary: 'Authorization server metadata (RFC 8414)', responses: { 200: { description: 'metadata' } } },
      {
        method: 'post', path: '/auth/cc/token', summary: 'Get an access token (OAuth 2.0 client credentials, RFC 6749 §4.4)',
        description: 'Form body with grant_type=client_credentials and HTTP Basic client authentication, or the JSON body {client_id, client_secret, scope}.',
        body: TokenRequestSchema, bodyType: 'application/x-www-form-urlencoded',
        responses: { 200: { description: 'token', schema: TokenResponseSchema }, 400: { description: 'invalid_request, unsupported_grant_type or invalid_scope' }, 401: { description: 'invalid_client' }, 413: { description: 'body over 4 KiB' }, 415: { description: 'compressed body' }, 429: { description: 'too many failed attempts for this client from this address, too many from this address, or over 300 requests a minute from it' }, 503: { description: 'temporarily_unavailable: the secret-hashing queue is full, or too many token requests are waiting (at most 50 are let in a second, in turns over source addresses); retry after Retry-After' } },
      },
    ];
  }
}

