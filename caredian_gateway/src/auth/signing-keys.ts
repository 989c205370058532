// RS256 signing keys: generated into DATA_DIR/keys at first start (0600), or read from
// JWT_PRIVATE_PEM_PATH/JWT_PUBLIC_PEM_PATH. Rotation adds a key and keeps retired ones
// published until every token they signed has expired.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, importPKCS8, importSPKI, type JWK } from 'jose';
import type { Config } from '../config/schema.js';
import { writeFileAtomic } from '../core/files.js';

interface KeyMeta {
  kid: string;
  created: string;
  /** When it stopped signing; published until retired + max token lifetime. */
  retired?: string;
}

export interface LoadedKey {
  kid: string;
  privateKey?: CryptoKey;
  jwk: JWK;
  retired?: number;
}

const ALG = 'RS256';

export class SigningKeys {
  private keys: LoadedKey[] = [];
  private loadedMtime = 0;

  private constructor(
    private readonly dir: string | undefined,
    private readonly maxTtlSeconds: number,
  ) {}

  static keysDir(dataDir: string): string {
    return join(dataDir, 'keys');
  }

  /** The keys the configuration names: JWT_PRIVATE_PEM_PATH / JWT_PUBLIC_PEM_PATH, else DATA_DIR/keys. */
  static forConfig(c: Pick<Config, 'jwt_private_pem_path' | 'jwt_public_pem_path' | 'jwt_ttl_seconds' | 'data_dir'>): Promise<SigningKeys> {
    return c.jwt_private_pem_path && c.jwt_public_pem_path
      ? SigningKeys.fromPemFiles(c.jwt_private_pem_path, c.jwt_public_pem_path, c.jwt_ttl_seconds)
      : SigningKeys.fromDataDir(c.data_dir, c.jwt_ttl_seconds);
  }

  /** Keys managed in DATA_DIR/keys (generated on first use). */
  static async fromDataDir(dataDir: string, maxTtlSeconds: number): Promise<SigningKeys> {
    const dir = SigningKeys.keysDir(dataDir);
    const s = new SigningKeys(dir, maxTtlSeconds);
    if (!existsSync(join(dir, 'keys.json'))) addKey(dir);
    await s.reload();
    return s;
  }

  /** One fixed key pair from PEM files (the seed's JWT_PRIVATE_PEM_PATH / JWT_PUBLIC_PEM_PATH). */
  static async fromPemFiles(privPath: string, pubPath: string, maxTtlSeconds: number): Promise<SigningKeys> {
    const s = new SigningKeys(undefined, maxTtlSeconds);
    const pub = readFileSync(pubPath, 'utf8');
    const jwk = await exportJWK(await importSPKI(spki(pub), ALG, { extractable: true }));
    const kid = await calculateJwkThumbprint(jwk);
    s.keys = [{ kid, jwk: { ...jwk, kid, alg: ALG, use: 'sig' }, privateKey: await importPKCS8(pkcs8(readFileSync(privPath, 'utf8')), ALG) }];
    return s;
  }

  /** Picks up a rotation done by `npm run rotate-keys` while the gateway runs. */
  async reloadIfChanged(): Promise<boolean> {
    if (!this.dir) return false;
    const m = statSync(join(this.dir, 'keys.json')).mtimeMs;
    if (m === this.loadedMtime) return false;
    await this.reload();
    return true;
  }

  private async reload(): Promise<void> {
    const dir = this.dir!;
    const metaPath = join(dir, 'keys.json');
    this.loadedMtime = statSync(metaPath).mtimeMs;
    const metas = JSON.parse(readFileSync(metaPath, 'utf8')) as KeyMeta[];
    const loaded: LoadedKey[] = [];
    for (const m of metas) {
      const pub = readFileSync(join(dir, `${m.kid}.pub.pem`), 'utf8');
      const jwk = await exportJWK(await importSPKI(pub, ALG, { extractable: true }));
      const retired = m.retired ? Date.parse(m.retired) : undefined;
      loaded.push({
        kid: m.kid,
        jwk: { ...jwk, kid: m.kid, alg: ALG, use: 'sig' },
        retired,
        privateKey: retired === undefined ? await importPKCS8(readFileSync(join(dir, `${m.kid}.pem`), 'utf8'), ALG) : undefined,
      });
    }
    this.keys = loaded;
  }

  /** The key that signs new tokens. */
  active(): { kid: string; privateKey: CryptoKey } {
    const k = [...this.keys].reverse().find((x) => x.retired === undefined && x.privateKey);
    if (!k || !k.privateKey) throw new Error('no active signing key');
    return { kid: k.kid, privateKey: k.privateKey };
  }

  /** Public keys that may still verify unexpired tokens. */
  published(now = Date.now()): JWK[] {
    return this.keys.filter((k) => k.retired === undefined || k.retired + this.maxTtlSeconds * 1000 > now).map((k) => k.jwk);
  }
}

/** Generates a new key pair in `dir`, retiring the ones before it. Returns the new kid. */
export function addKey(dir: string, now = new Date()): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const metaPath = join(dir, 'keys.json');
  const metas: KeyMeta[] = existsSync(metaPath) ? (JSON.parse(readFileSync(metaPath, 'utf8')) as KeyMeta[]) : [];
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `${now.toISOString().slice(0, 10)}-${randomUUID().slice(0, 8)}`;
  const privPath = join(dir, `${kid}.pem`);
  const pubPath = join(dir, `${kid}.pub.pem`);
  try {
    writeFileAtomic(privPath, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
    writeFileAtomic(pubPath, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
    for (const m of metas) m.retired ??= now.toISOString();
    metas.push({ kid, created: now.toISOString() });
    writeFileAtomic(metaPath, JSON.stringify(metas, null, 2), 0o600);
  } catch (err) {
    // A full disk: no half-made key is left behind; keys.json still names the old keys only.
    rmSync(privPath, { force: true });
    rmSync(pubPath, { force: true });
    throw err;
  }
  return kid;
}

// Accept PKCS#1 ("BEGIN RSA ... KEY") files as `openssl genrsa` may write them.
function pkcs8(pem: string): string {
  return pem.includes('BEGIN RSA PRIVATE KEY') ? (createPrivateKey(pem).export({ type: 'pkcs8', format: 'pem' }) as string) : pem;
}
function spki(pem: string): string {
  return pem.includes('BEGIN RSA PUBLIC KEY') ? (createPublicKey(pem).export({ type: 'spki', format: 'pem' }) as string) : pem;
}
