import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { decodeProtectedHeader } from 'jose';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { ADMIN_TOKEN, CLIENT_SECRET, startGateway, waitFor } from '../support/harness.js';
import { SigningKeys } from '../../src/auth/signing-keys.js';

test('rotation: new tokens use the new key, old tokens keep working, both keys are published', async () => {
  const h = await startGateway({ JWT_TTL_SECONDS: '120' });
  try {
    const jwks = async () => ((await (await fetch(`${h.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string; kty: string; alg: string; use: string }[] }).keys;
    const before = await h.token('events:fall:ingest');
    const oldKid = decodeProtectedHeader(before).kid;
    expect((await jwks()).map((k) => k.kid)).toEqual([oldKid]);
    expect((await jwks())[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(JSON.stringify(await jwks())).not.toMatch(/"d":|"p":|"q":/);

    const r = await fetch(`${h.adminUrl}/api/signing-keys/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(r.status).toBe(200);
    const { kid } = (await r.json()) as { kid: string };
    expect(kid).not.toBe(oldKid);
    expect((await jwks()).map((k) => k.kid).sort()).toEqual([oldKid, kid].sort());
    const after = await h.token('events:fall:ingest');
    expect(decodeProtectedHeader(after).kid).toBe(kid);
    for (const t of [before, after]) {
      const ev = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'k', event: 'idle', prob: 0 }) });
      expect(ev.status).toBe(200);
    }

    // The command-line rotation (npm run rotate-keys) is picked up by the running gateway.
    const cli = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'rotate-keys.js')], { env: { PATH: process.env.PATH, CAREDIAN_OPTIONS_PATH: '/nonexistent', DATA_DIR: h.config.data_dir }, encoding: 'utf8' });
    expect(cli.status).toBe(0);
    const cliKid = /new signing key (\S+)/.exec(cli.stdout)![1]!;
    await waitFor(async () => (await jwks()).some((k) => k.kid === cliKid), 15_000, 'the gateway to publish the CLI-rotated key');
    expect(decodeProtectedHeader(await h.token()).kid).toBe(cliKid);
  } finally {
    await h.close();
  }
}, 30_000);

test('a retired key leaves the JWKS once its tokens have expired', async () => {
  const h = await startGateway({ JWT_TTL_SECONDS: '60' });
  try {
    await fetch(`${h.adminUrl}/api/signing-keys/rotate`, { method: 'POST', headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
    const keys = await SigningKeys.fromDataDir(h.config.data_dir, 60);
    expect(keys.published()).toHaveLength(2);
    expect(keys.published(Date.now() + 61_000)).toHaveLength(1);
  } finally {
    await h.close();
  }
});

test('keys and secrets at rest: 0600 files, 0700 key directory, client secrets only as scrypt hashes', async () => {
  const h = await startGateway({ ADMIN_TOKEN: '', LOG_LEVEL: 'trace' });
  try {
    const dir = SigningKeys.keysDir(h.config.data_dir);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const priv = readdirSync(dir).filter((f) => f.endsWith('.pem') && !f.endsWith('.pub.pem'));
    expect(priv).toHaveLength(1);
    for (const f of priv) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const clients = join(h.config.data_dir, 'clients.json');
    expect(statSync(clients).mode & 0o777).toBe(0o600);
    const text = readFileSync(clients, 'utf8');
    expect(text).not.toContain(CLIENT_SECRET);
    expect(JSON.parse(text)).toEqual(expect.arrayContaining([expect.objectContaining({ client_id: 'esp32-01', salt: expect.any(String), hash: expect.any(String) })]));
    // Without ADMIN_TOKEN a token is generated into the data directory and never logged.
    const tokenFile = join(h.config.data_dir, 'admin-token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const adminToken = readFileSync(tokenFile, 'utf8').trim();
    expect(adminToken.length).toBeGreaterThanOrEqual(40);
    expect(h.logs.text).not.toContain(adminToken);
    expect((await fetch(`${h.adminUrl}/api/status`, { headers: { Authorization: `Bearer ${adminToken}` } })).status).toBe(200);
    // Events are health data: the log directory and its segments are owner-only.
    const logDir = join(h.config.data_dir, 'eventlog');
    expect(statSync(logDir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(logDir).filter((n) => n.endsWith('.log'))) expect(statSync(join(logDir, f)).mode & 0o777).toBe(0o600);
  } finally {
    await h.close();
  }
});
