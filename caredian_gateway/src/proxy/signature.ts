// X-Auth-Token: an HS256 JWT keyed by the API key, binding one request — its body (bh, the
// base64url SHA-256 of the raw bytes), method (htm) and path+query as sent (htu) — to a moment (iat,
// ±300 s) and a unique id (jti, refused if seen again within the window).
import { createHash, type KeyObject } from 'node:crypto';
import { jwtVerify, errors as joseErrors } from 'jose';

export const MAX_SKEW_S = 300;

export type SignatureFailure = 'missing_signature' | 'bad_signature' | 'body_hash_mismatch' | 'method_mismatch' | 'path_mismatch' | 'stale' | 'replayed';

export interface SignedRequest {
  body: Buffer;
  method: string;
  /** The request path and query exactly as sent, e.g. /proxy/analyze?lang=ko */
  pathAndQuery: string;
}

export function bodyHash(body: Buffer): string {
  return createHash('sha256').update(body).digest('base64url');
}

/** How long an accepted (key, jti) pair must be remembered: until its iat could no longer pass. */
export const REPLAY_WINDOW_S = 2 * MAX_SKEW_S;

/** Remembers (key, jti) pairs; see replay-store.ts. */
export interface ReplayGuard {
  /** Records the pair (durably, once resolved); false if it was already there. */
  add(key: string, jti: string, nowS: number): Promise<boolean>;
}

export async function verifySignedRequest(
  token: string | undefined,
  secret: KeyObject,
  keyName: string,
  r: SignedRequest,
  replay: ReplayGuard,
  nowS = Date.now() / 1000,
): Promise<{ ok: true } | { ok: false; reason: SignatureFailure; description: string }> {
  if (!token) return { ok: false, reason: 'missing_signature', description: 'X-Auth-Token is required for this upstream' };
  let claims: Record<string, unknown>;
  try {
    ({ payload: claims } = await jwtVerify(token, secret, { algorithms: ['HS256'], currentDate: new Date(nowS * 1000) }));
  } catch (e) {
    const why = e instanceof joseErrors.JOSEAlgNotAllowed ? 'algorithm must be HS256' : e instanceof joseErrors.JWTExpired ? 'token expired' : 'signature does not verify with this API key';
    return { ok: false, reason: 'bad_signature', description: why };
  }
  if (typeof claims.bh !== 'string' || claims.bh !== bodyHash(r.body)) return { ok: false, reason: 'body_hash_mismatch', description: 'bh is not the SHA-256 of the request body' };
  if (claims.htm !== r.method) return { ok: false, reason: 'method_mismatch', description: `htm does not match ${r.method}` };
  if (claims.htu !== r.pathAndQuery) return { ok: false, reason: 'path_mismatch', description: 'htu does not match the request path and query' };
  if (typeof claims.iat !== 'number' || Math.abs(nowS - claims.iat) > MAX_SKEW_S) return { ok: false, reason: 'stale', description: `iat must be within ${MAX_SKEW_S} s of the gateway's clock` };
  if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 128) return { ok: false, reason: 'bad_signature', description: 'jti must be a non-empty string' };
  if (!(await replay.add(keyName, claims.jti, nowS))) return { ok: false, reason: 'replayed', description: 'this jti was already used' };
  return { ok: true };
}
