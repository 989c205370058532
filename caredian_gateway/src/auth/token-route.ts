// POST /auth/cc/token: OAuth 2.0 client credentials (RFC 6749 §4.4), plus the seed's JSON body.
// Lockouts and limits: attempt-limits.ts. Hashing: client-store.ts (off libuv's pool, cached).
import { type Response, Router } from 'express';
import { addressKey } from '../http/address-key.js';
import { isRelayed } from '../http/relayed-peer.js';
import type { TokenAdmissionOptions } from './token-admission.js';
import { z } from 'zod';
import type { ClientStore } from './client-store.js';
import { HashPoolBusy } from './hash-pool.js';
import { DEFAULT_ATTEMPT_LIMITS, TokenAttemptLimits, type AttemptLimitSettings, type Refusal } from './attempt-limits.js';
import { parseTokenBody, readLimitedBody } from './token-body.js';
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

export interface TokenRouteOptions extends Partial<AttemptLimitSettings> {
  /** Secret hashes waiting for the hashing thread before requests get 503 (default 32). */
  hashQueue?: number;
  /** How token requests are let in (TokenAdmission). */
  admission?: TokenAdmissionOptions;
}

const REFUSED: Record<Refusal['why'], string> = {
  requests: 'too many token requests from this address; retry later',
  client_address: 'too many failed attempts for this client from this address; retry later',
  address: 'too many failed attempts from this address; retry later',
};

function refuse(res: Response, r: Refusal): void {
  res.setHeader('Retry-After', String(r.retryAfterSeconds));
  res.setHeader('Cache-Control', 'no-store');
  res.status(429).json({ error: 'invalid_request', error_description: REFUSED[r.why] });
}

export function tokenRouter(clients: ClientStore, tokens: TokenService, log: Logger, o: TokenRouteOptions = {}, onIssued?: (remoteAddress: string) => void): Router {
  const r = Router();
  const limits = new TokenAttemptLimits({
    failuresPerClientIp: o.failuresPerClientIp ?? DEFAULT_ATTEMPT_LIMITS.failuresPerClientIp,
    failuresPerIp: o.failuresPerIp ?? DEFAULT_ATTEMPT_LIMITS.failuresPerIp,
    requestsPerIpPerMinute: o.requestsPerIpPerMinute ?? DEFAULT_ATTEMPT_LIMITS.requestsPerIpPerMinute,
    windowMs: o.windowMs ?? DEFAULT_ATTEMPT_LIMITS.windowMs,
  });

  r.post('/auth/cc/token', async (req, res) => {
    const ip = addressKey(req.ip ?? '');
    const overCap = limits.admitRequest(ip);
    if (overCap) return refuse(res, overCap);

    const isForm = Boolean(req.is('application/x-www-form-urlencoded'));
    const isJson = !isForm && Boolean(req.is('application/json'));
    if (!isForm && !isJson) return closeAfter(res, () => oauthError(res, 'invalid_request', 'use application/x-www-form-urlencoded or application/json'));
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity')
      return closeAfter(res, () => {
        res.setHeader('Cache-Control', 'no-store');
        res.status(415).json({ error: 'invalid_request', error_description: 'compressed bodies are not accepted' });
      });
    const read = await readLimitedBody(req);
    if (read.kind === 'aborted') return;
    if (read.kind === 'too_large') {
      return closeAfter(res, () => {
        res.setHeader('Cache-Control', 'no-store');
        res.status(413).json({ error: 'invalid_request', error_description: 'request body too large' });
      });
    }
    const parsedBody = parseTokenBody(isForm ? 'form' : 'json', read.body);
    if (!parsedBody.ok) return oauthError(res, 'invalid_request', parsedBody.description);
    const body = parsedBody.fields;
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
    if (id.length > 256 || secret.length > 1024) return oauthError(res, 'invalid_client', 'unknown client or wrong secret', Boolean(basic));

    const credentials = { clientId: id, secret, rawSecret: basic && basic.rawSecret !== basic.secret ? basic.rawSecret : undefined };
    const attempt = clients.attemptKey(credentials);
    const locked = limits.lockout(ip, id, attempt);
    if (locked) return refuse(res, locked);
    const end = limits.begin(ip, id, attempt);
    let client;
    try {
      client = await clients.authenticate(credentials);
    } catch (e) {
      end('not_checked');
      if (!(e instanceof HashPoolBusy)) throw e;
      res.setHeader('Retry-After', '1');
      res.setHeader('Cache-Control', 'no-store');
      res.status(503).json({ error: 'temporarily_unavailable', error_description: 'busy checking other token requests; retry shortly' });
      return;
    }
    if (!client) {
      const lockedNow = end('failed');
      log.warn({ client_id: id, ip: req.ip }, 'token request with bad client credentials');
      if (lockedNow) log.warn({ client_id: id, ip: req.ip, lockout: lockedNow }, lockedNow === 'address' ? 'address locked out of the token endpoint' : 'client locked out from this address');
      return oauthError(res, 'invalid_client', 'unknown client or wrong secret', Boolean(basic));
    }
    end('ok');
    const requested = p.scope === undefined ? [] : p.scope.split(' ').filter(Boolean);
    const allowed = new Set<string>(client.scopes);
    const bad = requested.filter((s) => !allowed.has(s));
    if (bad.length) return oauthError(res, 'invalid_scope', `scope not allowed for this client: ${bad.join(' ')}`);
    const granted = requested.length ? [...new Set(requested)] : client.scopes;
    const { token, expiresIn } = await tokens.issue(client.clientId, granted);
    onIssued?.(req.socket.remoteAddress ?? '');
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
    res.json({ access_token: token, token_type: 'Bearer', expires_in: expiresIn, scope: granted.join(' ') });
  });
  return r;
}

/**
 * Answers, then closes the connection instead of reading a body this route will not use. A
 * worker's relayed connection stays open: the worker closes the device's, and closing this one
 * while the worker still writes the body could lose the answer (EPIPE before it is read).
 */
function closeAfter(res: Response, answer: () => void): void {
  if (!isRelayed(res.req)) res.setHeader('Connection', 'close');
  res.req.pause();
  answer();
}
