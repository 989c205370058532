// API keys for the AI proxy. The signing scheme (X-Auth-Token is an HMAC keyed by the API key
// itself) needs the key, so keys are kept encrypted at rest (AES-256-GCM) with a random master
// key in DATA_DIR/proxy-master.key (0600). Lookup is by an HMAC fingerprint of the key, so the
// plain key is decrypted only to check a signature, and never written, logged or listed.
import { createCipheriv, createDecipheriv, createHmac, createSecretKey, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull, writeFileAtomic, writeFileAtomicAsync } from '../core/files.js';
import type { ApiKeyConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';

export type KeyStatus = 'ACTIVE' | 'REVOKED';

interface StoredKey {
  name: string;
  status: KeyStatus;
  /** null: every upstream. */
  upstreams: string[] | null;
  created: string;
  last_used: string | null;
  revoked_at?: string;
  /** From API_KEYS_JSON / the add-on options rather than created through the admin API. */
  configured: boolean;
  fingerprint: string;
  sealed: { iv: string; tag: string; data: string };
}

/** What the admin API shows of a key: never the key itself. */
export type KeyInfo = Pick<StoredKey, 'name' | 'status' | 'upstreams' | 'created' | 'last_used' | 'revoked_at'> & { source: 'config' | 'admin' };

export interface KeyMatch {
  name: string;
  status: KeyStatus;
  upstreams: string[] | null;
  /** The key as an HMAC secret for X-Auth-Token. */
  secret: KeyObject;
}

export class KeyNameTaken extends Error {}

export class ApiKeyStore {
  private keys = new Map<string, StoredKey>();
  /** Decrypted signing secrets, so a request does not pay for AES and key import. Memory only. */
  private secrets = new Map<string, KeyObject>();
  private lastUsedMs = new Map<string, number>();
  private byFingerprint = new Map<string, StoredKey>();
  private master!: Buffer;
  private saveTimer?: NodeJS.Timeout;
  private saving?: Promise<void>;
  /** What the file holds, as far as this store knows: an unchanged store is not written again. */
  private written?: string;
  private readonly path: string;
  private readonly masterPath: string;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.path = join(dataDir, 'api-keys.json');
    this.masterPath = join(dataDir, 'proxy-master.key');
  }

  load(configured: ApiKeyConfig[]): void {
    if (existsSync(this.masterPath)) this.master = Buffer.from(readFileSync(this.masterPath, 'utf8').trim(), 'base64');
    else {
      this.master = randomBytes(32);
      writeFileAtomic(this.masterPath, this.master.toString('base64'), 0o600);
    }
    if (existsSync(this.path)) {
      this.written = readFileSync(this.path, 'utf8');
      for (const k of JSON.parse(this.written) as StoredKey[]) this.keys.set(k.name, k);
    }
    const wanted = new Set(configured.map((c) => c.name));
    // Configured keys: added or updated from the options; a revocation made on the admin API sticks.
    for (const c of configured) {
      const fp = this.fingerprint(c.key);
      const old = this.keys.get(c.name);
      if (old && old.fingerprint === fp) {
        old.configured = true;
        continue;
      }
      this.keys.set(c.name, { name: c.name, status: 'ACTIVE', upstreams: null, created: new Date().toISOString(), last_used: null, configured: true, fingerprint: fp, sealed: this.seal(c.key) });
    }
    // A key removed from the options is gone.
    for (const [name, k] of this.keys) if (k.configured && !wanted.has(name)) this.keys.delete(name);
    this.reindex();
    // At start the gateway must come up even on a full disk: the keys work from memory meanwhile.
    this.saveNow(true);
  }

  list(): KeyInfo[] {
    this.applyLastUsed();
    return [...this.keys.values()]
      .map((k) => ({ name: k.name, status: k.status, upstreams: k.upstreams, created: k.created, last_used: k.last_used, ...(k.revoked_at ? { revoked_at: k.revoked_at } : {}), source: k.configured ? ('config' as const) : ('admin' as const) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Creates a key; the plain key is returned here once and never again. */
  create(name: string, upstreams: string[] | null): { key: string; info: KeyInfo } {
    if (this.keys.has(name)) throw new KeyNameTaken(`a key named "${name}" exists`);
    const key = `cdk_${randomBytes(32).toString('base64url')}`;
    const k: StoredKey = { name, status: 'ACTIVE', upstreams, created: new Date().toISOString(), last_used: null, configured: false, fingerprint: this.fingerprint(key), sealed: this.seal(key) };
    this.keys.set(name, k);
    this.reindex();
    this.saveNow();
    return { key, info: this.list().find((i) => i.name === name)! };
  }

  /** Takes effect for the next request. Returns false for an unknown name. */
  revoke(name: string): boolean {
    const k = this.keys.get(name);
    if (!k) return false;
    if (k.status !== 'REVOKED') {
      k.status = 'REVOKED';
      k.revoked_at = new Date().toISOString();
      this.saveNow();
    }
    return true;
  }

  /** Finds the key a client presented, comparing in constant time. */
  match(presented: string): KeyMatch | undefined {
    const fp = this.fingerprint(presented);
    const k = this.byFingerprint.get(fp);
    if (!k || !timingSafeEqual(Buffer.from(k.fingerprint, 'hex'), Buffer.from(fp, 'hex'))) return undefined;
    let secret = this.secrets.get(k.name);
    if (!secret) this.secrets.set(k.name, (secret = createSecretKey(Buffer.from(this.unseal(k.sealed), 'utf8'))));
    return { name: k.name, status: k.status, upstreams: k.upstreams, secret };
  }

  touch(name: string): void {
    this.lastUsedMs.set(name, Date.now());
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = writeFileAtomicAsync(this.path, this.serialize(), 0o600).catch((err: unknown) => this.log.error({ err }, 'could not save API keys'));
    }, 5000);
    this.saveTimer.unref();
  }

  /** Saves now, after any periodic save still in flight (so that one cannot land last). */
  async flush(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    await this.saving;
    this.saveNow(true);
  }

  private fingerprint(key: string): string {
    return createHmac('sha256', this.master).update(key).digest('hex');
  }

  private seal(key: string): StoredKey['sealed'] {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.master, iv);
    const data = Buffer.concat([c.update(key, 'utf8'), c.final()]);
    return { iv: iv.toString('base64'), tag: c.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  private unseal(s: StoredKey['sealed']): string {
    const d = createDecipheriv('aes-256-gcm', this.master, Buffer.from(s.iv, 'base64'));
    d.setAuthTag(Buffer.from(s.tag, 'base64'));
    return Buffer.concat([d.update(Buffer.from(s.data, 'base64')), d.final()]).toString('utf8');
  }

  private applyLastUsed(): void {
    for (const [name, ms] of this.lastUsedMs) {
      const k = this.keys.get(name);
      if (k) k.last_used = new Date(ms).toISOString();
    }
  }

  private reindex(): void {
    this.secrets.clear();
    this.byFingerprint = new Map([...this.keys.values()].map((k) => [k.fingerprint, k]));
  }

  private serialize(): string {
    this.applyLastUsed();
    return JSON.stringify([...this.keys.values()], null, 1);
  }

  /** Writes the keys if they changed since the last write; `tolerateFull`: a full disk is logged, not thrown. */
  private saveNow(tolerateFull = false): void {
    const data = this.serialize();
    if (data === this.written) return;
    try {
      writeFileAtomic(this.path, data, 0o600);
      this.written = data;
    } catch (err) {
      if (!tolerateFull || !isDiskFull(err)) throw err;
      this.log.error({ path: this.path }, 'disk full: API keys are kept in memory and saved when there is space');
    }
  }
}
