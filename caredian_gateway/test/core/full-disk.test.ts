// A real full disk: the data directory is a 2 MiB tmpfs, filled up with a filler file between two
// starts of the gateway. Needs root (mount); without it the tests fail, they do not skip.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { writeFileAtomic, writeFileAtomicAsync } from '../../src/core/files.js';
import { decodeLine } from '../../src/events/segment-files.js';
import { ADMIN_TOKEN, startGateway, waitFor, type Harness } from '../support/harness.js';

let dir: string;
let mounted = false;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'caredian-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    throw new Error(`these tests need a real full disk: could not mount a tmpfs on ${dir} (run the tests as root on Linux): ${(e as Error).message}`);
  }
  mounted = true;
});

afterAll(() => {
  if (mounted) {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      // Still busy (a failed test left a file open): detach it now, it goes once the file is closed.
      execFileSync('umount', ['--lazy', dir], { stdio: 'pipe' });
    }
  }
  rmdirSync(dir);
});

/** Fills the file system holding `path` until not one more byte fits. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const chunk of [Buffer.alloc(64 * 1024), Buffer.alloc(1)]) {
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Every file under `root` with its size and content, filler excluded. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== 'filler') out[relative(root, p)] = readFileSync(p).toString('base64');
    }
  };
  walk(root);
  return out;
}

const tempFiles = (root: string) => Object.keys(snapshot(root)).filter((n) => /\.tmp-/.test(n));

describe('writeFileAtomic on a full disk', () => {
  const target = () => join(dir, 'atomic', 'state.json');

  beforeAll(() => {
    writeFileAtomic(target(), JSON.stringify({ v: 'old' }));
    fill(join(dir, 'filler'));
  });
  afterAll(() => unlinkSync(join(dir, 'filler')));

  test('sync: throws ENOSPC, keeps the old content, leaves no temp file', () => {
    expect(() => writeFileAtomic(target(), JSON.stringify({ v: 'new', pad: 'x'.repeat(100_000) }))).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
    expect(readFileSync(target(), 'utf8')).toBe(JSON.stringify({ v: 'old' }));
    expect(readdirSync(join(dir, 'atomic'))).toEqual(['state.json']);
  });

  test('async: rejects with ENOSPC, keeps the old content, leaves no temp file', async () => {
    await expect(writeFileAtomicAsync(target(), JSON.stringify({ v: 'new', pad: 'x'.repeat(100_000) }))).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(readFileSync(target(), 'utf8')).toBe(JSON.stringify({ v: 'old' }));
    expect(readdirSync(join(dir, 'atomic'))).toEqual(['state.json']);
  });
});

describe('the gateway on a full disk', () => {
  let h: Harness | undefined;
  const data = () => join(dir, 'gw');
  const env = {};
  const admin = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const events = async (g: Harness) => ((await (await fetch(`${g.adminUrl}/api/events?limit=100`, { headers: admin })).json()) as { events: { event_id: string }[] }).events.map((e) => e.event_id);
  const messages = (g: Harness) => g.logs.lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  const post = (g: Harness, token: string, path: string, body: unknown) =>
    fetch(`${g.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  afterEach(async () => {
    await h?.close();
    h = undefined;
    rmSync(join(dir, 'filler'), { force: true });
  });

  test('starts degraded: /ready 503 with the reason, tokens and reads work, writes get 503 and store nothing; frees up without a restart', async () => {
    // First start on an empty disk: keys, hashed clients and the event log are created; one fall is stored.
    h = await startGateway(env, { dataDir: data(), keepData: true });
    const before = await post(h, await h.token('events:fall:ingest'), '/events/fall', { device_id: 'band-1', event: 'fall', prob: 0.9, event_id: 'before-full' });
    expect(before.status).toBe(200);
    await h.close();
    h = undefined;

    fill(join(dir, 'filler'));
    const files = snapshot(data());
    const clientsInode = statSync(join(data(), 'clients.json')).ino;

    h = await startGateway(env, { dataDir: data(), keepData: true });
    const ready = await fetch(`${h.url}/ready`);
    expect(ready.status).toBe(503);
    const report = (await ready.json()) as { ok: boolean; checks: Record<string, { ready: boolean; detail?: string }> };
    expect(report.ok).toBe(false);
    expect(report.checks.storage).toMatchObject({ ready: false, detail: `disk full: ${data()}` });

    // A device can still get a token (to retry later), and what is stored can still be read.
    const token = await h.token('events:fall:ingest devices:write events:imu:ingest');
    expect(await events(h)).toEqual(['before-full']);

    for (const [path, body, error] of [
      ['/events/fall', { device_id: 'band-1', event: 'fall', prob: 0.95, event_id: 'while-full' }, 'storage_unavailable'],
      ['/devices/heartbeat', { device_id: 'band-1', battery: 80 }, 'storage_unavailable'],
      // Refused before the model sees it (a fall it decided could not be stored): the retry feeds it.
      ['/events/imu', { device_id: 'band-1', rate_hz: 50, t0: 1_760_000_000, acc: Array.from({ length: 50 }, () => [0, -1, 0]) }, 'storage_unavailable'],
    ] as const) {
      const r = await post(h, token, path, body);
      expect([path, r.status]).toEqual([path, 503]);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(await r.json()).toMatchObject({ ok: false, error });
    }
    // Rotating the signing key cannot work either; the old key keeps signing.
    const jwks = await (await fetch(`${h.url}/.well-known/jwks.json`)).text();
    const rotate = await fetch(`${h.adminUrl}/api/signing-keys/rotate`, { method: 'POST', headers: admin });
    expect(rotate.ok).toBe(false);
    expect(await rotate.json()).toMatchObject({ ok: false });
    expect(await (await fetch(`${h.url}/.well-known/jwks.json`)).text()).toBe(jwks);
    expect(await events(h)).toEqual(['before-full']);
    // Nothing was rewritten (clients.json is the same file), nothing half-written, no temp files.
    expect(statSync(join(data(), 'clients.json')).ino).toBe(clientsInode);
    expect(snapshot(data())).toEqual(files);
    expect(tempFiles(data())).toEqual([]);

    // Space comes back: the gateway recovers on its own.
    unlinkSync(join(dir, 'filler'));
    await waitFor(async () => (await fetch(`${h!.url}/ready`)).status === 200, 15_000, '/ready to recover');
    const after = await post(h, token, '/events/fall', { device_id: 'band-1', event: 'fall', prob: 0.95, event_id: 'while-full' });
    expect(after.status).toBe(200);
    expect(await events(h)).toEqual(expect.arrayContaining(['before-full', 'while-full']));
    expect(tempFiles(data())).toEqual([]);
    expect(messages(h).filter((m) => m.startsWith('disk full: events are refused'))).toHaveLength(1);
    expect(messages(h)).toContain('disk has room again: events are accepted');
  }, 60_000);

  test('the disk fills up while running: the record that does not fit is cut back, later ones are refused; stop and a standalone start on the full disk work', async () => {
    const d = join(dir, 'gw2');
    h = await startGateway(env, { dataDir: d, keepData: true });
    const token = await h.token('events:fall:ingest');
    // One record first, so the log's last page is part-used: records fill it, and the one that
    // straddles its end is written in part before the disk refuses the rest.
    expect((await post(h, token, '/events/fall', { device_id: 'band-2', event: 'fall', prob: 0.9, event_id: 'run-0' })).status).toBe(200);
    fill(join(dir, 'filler'));
    const statuses: number[] = [200];
    for (let i = 1; i < 100 && !statuses.includes(503); i++) statuses.push((await post(h, token, '/events/fall', { device_id: 'band-2', event: 'fall', prob: 0.9, event_id: `run-${i}` })).status);
    expect(statuses.at(-1)).toBe(503);
    const acknowledged = statuses.slice(0, -1).map((_, i) => `run-${i}`);
    expect(statuses.slice(0, -1).every((s) => s === 200)).toBe(true);
    expect(acknowledged.length).toBeGreaterThan(2);
    const ready = (await (await fetch(`${h.url}/ready`)).json()) as { checks: Record<string, { detail?: string }> };
    expect(ready.checks.storage?.detail).toBe(`disk full: ${d}`);
    // Refused from now on without touching the disk.
    expect((await post(h, token, '/events/fall', { device_id: 'band-2', event: 'fall', prob: 0.9, event_id: 'refused' })).status).toBe(503);
    // Exactly the acknowledged records are in the log, every line of it whole.
    const logDir = join(d, 'eventlog');
    const lines = readdirSync(logDir).filter((n) => n.endsWith('.log')).flatMap((n) => readFileSync(join(logDir, n), 'utf8').split('\n').slice(0, -1));
    expect(lines.map((l) => decodeLine(l)?.kind === 'fall' && (decodeLine(l) as { event_id: string }).event_id)).toEqual(acknowledged);

    // Stopping on a full disk completes and leaves no temp files.
    await h.close();
    h = undefined;
    expect(tempFiles(d)).toEqual([]);

    // Standalone without ADMIN_TOKEN: the generated admin token cannot be saved; the gateway starts anyway.
    h = await startGateway({ ...env, ADMIN_TOKEN: '' }, { dataDir: d, keepData: true });
    expect(messages(h).some((m) => m.startsWith('disk full: the admin token could not be saved'))).toBe(true);
    expect(readdirSync(d)).not.toContain('admin-token');
    expect((await fetch(`${h.url}/ready`)).status).toBe(503);
    unlinkSync(join(dir, 'filler'));
    await waitFor(async () => (await fetch(`${h!.url}/ready`)).status === 200, 15_000, '/ready to recover');
    expect((await post(h, token, '/events/fall', { device_id: 'band-2', event: 'fall', prob: 0.9, event_id: 'refused' })).status).toBe(200);
    expect(tempFiles(d)).toEqual([]);
  }, 60_000);
});
