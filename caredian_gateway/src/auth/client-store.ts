// OAuth2 clients. Secrets are held only as salted scrypt hashes, in memory and in DATA_DIR/clients.json.
// Hashing runs on the HashPool's own threads; correct credentials seen recently are recognised by
// the VerifiedCache without hashing again.
import { randomBytes, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull, writeFileAtomic } from '../core/files.js';
import type { ClientConfig, Scope } from '../config/schema.js';
import { HashPool, type HashPoolOptions } from './hash-pool.js';
import { VerifiedCache } from './verified-cache.js';

const PARAMS: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

interface StoredClient {
  client_id: string;
  salt: string;
  hash: string;
  scopes: Scope[];
}

export interface Client {
  clientId: string;
  scopes: Scope[];
}

export interface Credentials {
  clientId: string;
  secret: string;
  /** An HTTP Basic secret as sent, when form-decoding changed it (devices that do not encode). */
  rawSecret?: string;
}

export interface ClientStoreStats {
  /** Secrets put through scrypt since start. */
  hashes: number;
  cacheHits: number;
  hashQueue: number;
}

export class ClientStore {
  private clients = new Map<string, StoredClient>();
  // Unknown client ids are checked against this so timing does not reveal which ids exist.
  private dummy: StoredClient = { client_id: '', salt: randomBytes(16).toString('base64'), hash: randomBytes(KEYLEN).toString('base64'), scopes: [] };
  private readonly pool: HashPool;
  private readonly verified = new VerifiedCache();
  // Identical attempts in flight share one hash (a device's retries, a burst of the same request).
  private readonly inflight = new Map<string, Promise<Client | undefined>>();
  private cacheHits = 0;

  constructor(
    private readonly file: string,
    pool: Pick<HashPoolOptions, 'workers' | 'maxQueue'> = {},
  ) {
    this.pool = new HashPool({ ...pool, keylen: KEYLEN, params: PARAMS });
  }

  static path(dataDir: string): string {
    return join(dataDir, 'clients.json');
  }

  /** Hashes the configured clients; re-uses the stored hash when the secret has not changed. */
  async load(configured: ClientConfig[]): Promise<void> {
    const previous = new Map<string, StoredClient>();
    const before = existsSync(this.file) ? readFileSync(this.file, 'utf8') : undefined;
    if (before !== undefined) {
      for (const c of JSON.parse(before) as StoredClient[]) previous.set(c.client_id, c);
    }
    this.clients.clear();
    for (const c of configured) {
      const old = previous.get(c.client_id);
      if (old && (await this.matchIndex(old, [c.secret])) === 0) {
        this.clients.set(c.client_id, { ...old, scopes: c.scopes });
        continue;
      }
      const salt = randomBytes(16);
      const [hash] = await this.pool.derive([c.secret], salt);
      this.clients.set(c.client_id, { client_id: c.client_id, salt: salt.toString('base64'), hash: hash!.toString('base64'), scopes: c.scopes });
    }
    const text = JSON.stringify([...this.clients.values()], null, 2);
    // Unchanged clients are not rewritten, so a restart needs no free space.
    if (text === before) return;
    try {
      writeFileAtomic(this.file, text);
    } catch (err) {
      // Disk full: the clients work from memory (and /ready says the disk is full); unsaved hashes
      // are only computed again at the next start.
      if (!isDiskFull(err)) throw err;
    }
  }

  get size(): number {
    return this.clients.size;
  }

  get stats(): ClientStoreStats {
    return { hashes: this.pool.hashed, cacheHits: this.cacheHits, hashQueue: this.pool.queued };
  }

  /** Names an attempt: equal for equal credentials, and reveals nothing about the secret. */
  attemptKey(c: Credentials): string {
    return this.verified.key([c.clientId, c.secret, c.rawSecret ?? '']);
  }

  /**
   * Checks credentials. A miss costs one hash job whether the id exists or the secret is right
   * (two secrets in it when `rawSecret` is given), so failures never cost more than successes.
   * Throws HashPoolBusy when the hashing queue is full.
   */
  authenticate(c: Credentials): Promise<Client | undefined> {
    const key = this.attemptKey(c);
    const stored = this.clients.get(c.clientId);
    if (stored && this.verified.has(key, stored.hash)) {
      this.cacheHits++;
      return Promise.resolve({ clientId: stored.client_id, scopes: stored.scopes });
    }
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const check = this.verify(c, key).finally(() => this.inflight.delete(key));
    this.inflight.set(key, check);
    return check;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  private async verify(c: Credentials, key: string): Promise<Client | undefined> {
    const stored = this.clients.get(c.clientId);
    const candidates = c.rawSecret !== undefined && c.rawSecret !== c.secret ? [c.secret, c.rawSecret] : [c.secret];
    const hit = (await this.matchIndex(stored ?? this.dummy, candidates)) >= 0;
    // The store may have been reloaded meanwhile: only the hash that was checked counts.
    if (!hit || !stored || this.clients.get(c.clientId) !== stored) return undefined;
    this.verified.add(key, stored.hash);
    return { clientId: stored.client_id, scopes: stored.scopes };
  }

  /** Index of the first secret that matches, or -1; every secret is hashed and compared. */
  private async matchIndex(c: StoredClient, secrets: string[]): Promise<number> {
    const expected = Buffer.from(c.hash, 'base64');
    const actual = await this.pool.derive(secrets, Buffer.from(c.salt, 'base64'));
    let found = -1;
    actual.forEach((a, i) => {
      if (expected.length === a.length && timingSafeEqual(expected, a) && found < 0) found = i;
    });
    return found;
  }
}
