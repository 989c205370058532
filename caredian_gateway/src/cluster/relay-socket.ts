// Where the event log owner serves the device app for its workers: a Unix socket in the data
// directory (0700, so only this add-on reaches it), or under the temp dir when that path would be
// longer than a socket address allows (108 bytes on Linux).
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function relaySocketPath(dataDir: string): string {
  const p = join(dataDir, 'device-api.sock');
  if (Buffer.byteLength(p) < 100) return p;
  return join(tmpdir(), `caredian-${createHash('sha256').update(dataDir).digest('hex').slice(0, 16)}.sock`);
}
