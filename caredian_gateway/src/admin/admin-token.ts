import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { isDiskFull, writeFileAtomic } from '../core/files.js';
import type { Logger } from '../core/logger.js';

/** Standalone without ADMIN_TOKEN: a random token generated once into DATA_DIR/admin-token (0600). */
export function ensureAdminToken(dataDir: string): { token: string; path: string; created: boolean; saved: boolean } {
  const path = join(dataDir, 'admin-token');
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), path, created: false, saved: true };
  const token = randomBytes(32).toString('base64url');
  try {
    writeFileAtomic(path, `${token}\n`, 0o600);
  } catch (err) {
    // A full disk: start anyway (devices keep working); nobody can learn this token, it is never logged.
    if (!isDiskFull(err)) throw err;
    return { token, path, created: true, saved: false };
  }
  return { token, path, created: true, saved: true };
}

/** The admin listener's token: ADMIN_TOKEN, or in standalone mode the generated one (ingress needs none). */
export function adminToken(c: Config, log: Logger): string | undefined {
  if (c.admin_token || c.mode !== 'standalone') return c.admin_token;
  const t = ensureAdminToken(c.data_dir);
  if (!t.saved) log.error({ file: t.path }, 'disk full: the admin token could not be saved, so the admin listener accepts no token until a restart with free space (or set ADMIN_TOKEN)');
  else log.info({ file: t.path }, t.created ? 'generated an admin token for the admin listener; it is in this file' : 'admin token read from file');
  return t.token;
}
