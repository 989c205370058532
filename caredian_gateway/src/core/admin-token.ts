import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './files.js';

/** Standalone without ADMIN_TOKEN: a random token generated once into DATA_DIR/admin-token (0600). */
export function ensureAdminToken(dataDir: string): { token: string; path: string; created: boolean } {
  const path = join(dataDir, 'admin-token');
  if (existsSync(path)) return { token: readFileSync(path, 'utf8').trim(), path, created: false };
  const token = randomBytes(32).toString('base64url');
  writeFileAtomic(path, `${token}\n`, 0o600);
  return { token, path, created: true };
}
