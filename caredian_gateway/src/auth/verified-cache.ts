// Client credentials that recently passed the slow hash, so a correct retry (or a burst of the
// same request) skips it. Keys are HMAC-SHA256 under a key made at start and never stored, so
// the cache holds no secret; an entry is valid only while the client's stored hash is unchanged.
import { createHmac, randomBytes } from 'node:crypto';

export class VerifiedCache {
  private readonly hmacKey = randomBytes(32);
  private readonly entries = new Map<string, { hash: string; expires: number }>();

  constructor(
    private readonly ttlMs = 60 * 60_000,
    private readonly max = 10_000,
  ) {}

  /** A fast keyed digest of what the client presented; also names the attempt for the limits. */
  key(parts: readonly string[]): string {
    return createHmac('sha256', this.hmacKey).update(JSON.stringify(parts)).digest('base64url');
  }

  has(key: string, storedHash: string | undefined, now = Date.now()): boolean {
    const e = this.entries.get(key);
    if (!e) return false;
    if (e.expires > now && e.hash === storedHash) return true;
    this.entries.delete(key);
    return false;
  }

  add(key: string, storedHash: string, now = Date.now()): void {
    this.entries.delete(key);
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { hash: storedHash, expires: now + this.ttlMs });
  }

  get size(): number {
    return this.entries.size;
  }
}
