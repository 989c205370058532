// POST /auth/cc/token: OAuth 2.0 client credentials (RFC 6749 §4.4), plus the seed's JSON body.
import express, { type ErrorRequestHandler, type Request, type Response, Router } from 'express';
import { rateLimit, ipKeyGenerator } from 'express-rate-limit';
import { z } from 'zod';
import type { ClientStore } from './client-store.js';
import type { TokenService } from './tokens.js';
import type { Logger } from '../core/logger.js';

export const TokenRequestSchema = z.object({
  grant_type: z.literal('client_credentials').optional(),
  client_id: z.string().max(256).optional(),
  client_secret: z.string().max(1024).optional(),
  scope: z.string().max(1024).optional().describe('space-delimited scopes; omitted means every scope the client may have'),
});

export const TokenResponseSchema = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
});

type OAuthError = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

function oauthError(res: Response, error: OAuthError, description: string, basic = false): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  if (error === 'invalid_client') {
    if (basic) res.setHeader('WWW-Authenticate', 'Basic realm="caredian", charset="UTF-8"');
    res.status(401);
  } else res.status(400);
  res.json({ error, error_description: description });
}

function parseBasic(h: string | undefined): { id: string; secret: string; rawSecret: string } | null | undefined {
  if (!h || !/^basic /i.test(h)) return undefined;
  const decoded = Buffer.from(h.slice(6).trim(), 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0) return null;
  const form = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { id: form(decoded.slice(0, i)), secret: form(decoded.slice(i + 1)), rawSecret: decoded.slice(i + 1) };
}

export interface TokenRouteOptions {
  failuresPerIp?: number;
  failuresPerClient?: number;
  windowMs?: number;
}

export function tokenRouter(clients: ClientStore, tokens: TokenService, log: Logger, o: TokenRouteOptions = {}): Router {
  const r = Router();
  const windowMs = o.windowMs ?? 10 * 60_000;
  const limited = (req: Request, res: Response) => {
    const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
    res.setHeader('Retry-After', String(reset ? Math.max(1, Math.ceil((reset.getTime() - Date.now()) / 1000)) : Math.ceil(windowMs / 1000)));
    res.setHeader('Cache-Control', 'no-store');
    res.status(429).json({ error: 'invalid_request', error_description: 'too many failed attempts; retry later' });
  };
  const common = { windowMs, skipSuccessfulRequests: true, standardHeaders: 'draft-7' as const, legacyHeaders: false, handler: limited };
  const perIp = rateLimit({ ...common, limit: o.failuresPerIp ?? 30, keyGenerator: (req) => `ip:${ipKeyGenerator(req.ip ?? '')}` });
  const perClient = rateLimit({
    ...common,
    limit: o.failuresPerClient ?? 10,
    keyGenerator: (req) => `client:${clientIdOf(req) ?? ''}`,
    skip: (req) => clientIdOf(req) === undefined,
  });

  r.post(
    '/auth/cc/token',
    express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 }),
    express.json({ limit: '8kb' }),
    perIp,
    perClient,
    async (req, res) => {
      const isForm = req.is('application/x-www-form-urlencoded') !== false && req.is('application/x-www-form-urlencoded') !== null;
      const isJson = !isForm && Boolean(req.is('application/json'));
      if (!isForm && !isJson) return oauthError(res, 'invalid_request', 'use application/x-www-form-urlencoded or application/json');
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body !== 'object' || Array.isArray(body)) return oauthError(res, 'invalid_request', 'body must be an object');
      for (const [k, v] of Object.entries(body)) {
        if (typeof v !== 'string') return oauthError(res, 'invalid_request', `${k} must be a single string`);
      }
      const grant = body.grant_type;
      if (grant === undefined && isForm) return oauthError(res, 'invalid_request', 'grant_type is required');
      if (grant !== undefined && grant !== 'client_credentials') return oauthError(res, 'unsupported_grant_type', 'only client_credentials is supported');
      const parsed = TokenRequestSchema.safeParse(body);
      if (!parsed.success) return oauthError(res, 'invalid_request', 'malformed parameters');
      const p = parsed.data;

      const basic = parseBasic(req.headers.authorization);
      if (basic === null) return oauthError(res, 'invalid_client', 'malformed Basic credentials', true);
      if (basic && (p.client_secret !== undefined || (p.client_id !== undefined && p.client_id !== basic.id)))
        return oauthError(res, 'invalid_request', 'use one client authentication method: HTTP Basic or the body, not both');
      const id = basic?.id ?? p.client_id;
      const secret = basic?.secret ?? p.client_secret;
      if (!id || secret === undefined) return oauthError(res, 'invalid_client', 'client authentication is required', Boolean(basic));

      let client = await clients.authenticate(id, secret);
      if (!client && basic && basic.rawSecret !== basic.secret) client = await clients.authenticate(id, basic.rawSecret);
      if (!client) {
        log.warn({ client_id: id, ip: req.ip }, 'token request with bad client credentials');
        return oauthError(res, 'invalid_client', 'unknown client or wrong secret', Boolean(basic));
      }
      const requested = p.scope === undefined ? [] : p.scope.split(' ').filter(Boolean);
      const allowed = new Set<string>(client.scopes);
      const bad = requested.filter((s) => !allowed.has(s));
      if (bad.length) return oauthError(res, 'invalid_scope', `scope not allowed for this client: ${bad.join(' ')}`);
      const granted = requested.length ? [...new Set(requested)] : client.scopes;
      const { token, expiresIn } = await tokens.issue(client.clientId, granted);
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
      res.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: granted.join(' ') });
    },
  );
  // Body-parser failures on this route answer in the OAuth error format, never cached.
  r.use('/auth/cc/token', ((err, _req, res, next) => {
    const type = (err as { type?: string }).type;
    if (type === 'entity.too.large') {
      res.setHeader('Cache-Control', 'no-store');
      res.status(413).json({ error: 'invalid_request', error_description: 'request body too large' });
      return;
    }
    if (type === 'entity.parse.failed' || type === 'parameters.too.many') return oauthError(res, 'invalid_request', 'malformed request body');
    next(err);
  }) as ErrorRequestHandler);
  return r;
}

function clientIdOf(req: Request): string | undefined {
  const b = parseBasic(req.headers.authorization);
  if (b) return b.id;
  const id = (req.body as Record<string, unknown> | undefined)?.client_id;
  return typeof id === 'string' ? id.slice(0, 256) : undefined;
}
