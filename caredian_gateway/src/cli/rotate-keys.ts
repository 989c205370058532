// Adds a new token-signing key in DATA_DIR/keys. The previous key stops signing but stays in the
// JWKS until every token it signed has expired. A running gateway picks the change up within 10 s.
import { ConfigError, loadConfig } from '../config/load.js';
import { SigningKeys, addKey } from '../auth/signing-keys.js';

try {
  const c = loadConfig();
  if (c.jwt_private_pem_path) {
    process.stderr.write('rotate-keys: JWT_PRIVATE_PEM_PATH is set; those keys are managed outside the gateway\n');
    process.exit(2);
  }
  const kid = addKey(SigningKeys.keysDir(c.data_dir));
  process.stdout.write(`rotate-keys: new signing key ${kid} in ${SigningKeys.keysDir(c.data_dir)}; older keys stay published for ${c.jwt_ttl_seconds} s\n`);
} catch (e) {
  if (e instanceof ConfigError) {
    for (const p of e.problems) process.stderr.write(`config error: ${p}\n`);
    process.exit(2);
  }
  throw e;
}
