import { createHash, randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';

/** The client side of X-Auth-Token, as DOCS.md tells users to compute it. */
export function signRequest(apiKey: string, method: string, pathAndQuery: string, body: Buffer | string, o: { iat?: number; jti?: string; alg?: string; bh?: string } = {}): Promise<string> {
  const bh = o.bh ?? createHash('sha256').update(body).digest('base64url');
  return new SignJWT({ bh, htm: method, htu: pathAndQuery })
    .setProtectedHeader({ alg: o.alg ?? 'HS256', typ: 'JWT' })
    .setIssuedAt(o.iat ?? Math.floor(Date.now() / 1000))
    .setJti(o.jti ?? randomUUID())
    .sign(new TextEncoder().encode(apiKey));
}
