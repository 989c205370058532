// OAuth2 clients. Secrets are held only as salted scrypt hashes, in memory and in DATA_DIR/clients.json.
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/files.js';
import type { ClientConfig, Scope } from '../config/schema.js';

const PARAMS: ScryptOptions = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEYLEN = 32;

function scrypt(secret: string, salt: Buffer): Promise<Buffer> {
  return new Promise((res, rej) => scryptCb(secret, salt, KEYLEN, PARAMS, (e, k) => (e ? rej(e) : res(k))));
}

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

export class ClientStore {
  private clients = new Map<string, StoredClient>();
  // Unknown client ids are checked against this so timing does not reveal which ids exist.
  private dummy: StoredClient = { client_id: '', salt: randomBytes(16).toString('base64'), hash: randomBytes(KEYLEN).toString('base64'), scopes: [] };

  constructor(private readonly file: string) {}

  static path(dataDir: string): string {
    return join(dataDir, 'clients.json');
  }

  /** Hashes the configured clients; re-uses the stored hash when the secret has not changed. */
  async load(configured: ClientConfig[]): Promise<void> {
    const previous = new Map<string, StoredClient>();
    if (existsSync(this.file)) {
      for (const c of JSON.parse(readFileSync(this.file, 'utf8')) as StoredClient[]) previous.set(c.client_id, c);
    }
    this.clients.clear();
    for (const c of configured) {
      const old = previous.get(c.client_id);
      if (old && (await this.matches(old, c.secret))) {
        this.clients.set(c.client_id, { ...old, scopes: c.scopes });
        continue;
      }
      const salt = randomBytes(16);
      const hash = await scrypt(c.secret, salt);
      this.clients.set(c.client_id, { client_id: c.client_id, salt: salt.toString('base64'), hash: hash.toString('base64'), scopes: c.scopes });
    }
    writeFileAtomic(this.file, JSON.stringify([...this.clients.values()], null, 2));
  }

  get size(): number {
    return this.clients.size;
  }

  /** Constant-time check; always does the same work whether or not the id exists. */
  async authenticate(clientId: string, secret: string): Promise<Client | undefined> {
    const c = this.clients.get(clientId);
    const ok = await this.matches(c ?? this.dummy, secret);
    return c && ok ? { clientId: c.client_id, scopes: c.scopes } : undefined;
  }

  private async matches(c: StoredClient, secret: string): Promise<boolean> {
    const expected = Buffer.from(c.hash, 'base64');
    const actual = await scrypt(secret, Buffer.from(c.salt, 'base64'));
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
