// Access tokens: RS256 JWTs with `typ: at+jwt` (RFC 9068), issued and verified here.
import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { SigningKeys } from './signing-keys.js';

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface AccessClaims extends JWTPayload {
  sub: string;
  client_id: string;
  scope: string;
  exp: number;
}

export class TokenError extends Error {}

const CLOCK_TOLERANCE_S = 30;
const CACHE_MAX = 10_000;

export class TokenService {
  // Verified tokens, so a device's every request does not redo the RSA check. Bounded; entries expire with the token.
  private cache = new Map<string, AccessClaims>();
  private jwks: ReturnType<typeof createLocalJWKSet>;
  private jwksFor: unknown;

  constructor(
    private readonly keys: SigningKeys,
    private readonly s: TokenSettings,
  ) {
    this.jwks = this.buildJwks();
  }

  async issue(clientId: string, scope: string[]): Promise<{ token: string; expiresIn: number }> {
    const { kid, privateKey } = this.keys.active();
    const token = await new SignJWT({ client_id: clientId, scope: scope.join(' ') })
      .setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid })
      .setIssuer(this.s.issuer)
      .setAudience(this.s.audience)
      .setSubject(clientId)
      .setIssuedAt()
      .setExpirationTime(`${this.s.ttlSeconds}s`)
      .setJti(randomUUID())
      .sign(privateKey);
    return { token, expiresIn: this.s.ttlSeconds };
  }

  /** Verifies signature (RS256 only), typ, iss, aud, exp; throws TokenError with a reason. */
  async verify(token: string): Promise<AccessClaims> {
    const now = Date.now() / 1000;
    const hit = this.cache.get(token);
    if (hit && hit.exp + CLOCK_TOLERANCE_S > now) return hit;
    if (hit) this.cache.delete(token);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.currentJwks(), {
        algorithms: ['RS256'],
        typ: 'at+jwt',
        issuer: this.s.issuer,
        audience: this.s.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
      }));
    } catch (e) {
      throw new TokenError(reason(e));
    }
    if (typeof payload.scope !== 'string' || typeof payload.client_id !== 'string') throw new TokenError('token lacks scope or client_id');
    const claims = payload as AccessClaims;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(token, claims);
    return claims;
  }

  jwksDocument(): { keys: ReturnType<SigningKeys['published']> } {
    return { keys: this.keys.published() };
  }

  private currentJwks() {
    const published = this.keys.published();
    if (published !== this.jwksFor && JSON.stringify(published) !== JSON.stringify(this.jwksFor)) this.jwks = this.buildJwks();
    return this.jwks;
  }

  private buildJwks() {
    const keys = this.keys.published();
    this.jwksFor = keys;
    return createLocalJWKSet({ keys });
  }
}

function reason(e: unknown): string {
  if (e instanceof joseErrors.JWTExpired) return 'token expired';
  if (e instanceof joseErrors.JWTClaimValidationFailed) return `claim check failed: ${e.claim}`;
  if (e instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (e instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (e instanceof joseErrors.JWKSNoMatchingKey) return 'no matching key';
  if (e instanceof joseErrors.JWSInvalid || e instanceof joseErrors.JWTInvalid) return 'malformed token';
  return 'invalid token';
}
