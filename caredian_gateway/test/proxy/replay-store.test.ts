// The replay log stays bounded: expired ids leave memory and, by compaction, the file; live ids
// survive every rewrite and a reopen. (The HTTP behaviour is in replay-restart.test.ts.)
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../src/core/logger.js';
import { ReplayStore } from '../../src/proxy/replay-store.js';
import { LogSink, tempDir } from '../support/harness.js';

const WINDOW = 600;
let dir: string;
beforeEach(() => (dir = tempDir()));
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const log = () => createLogger({ level: 'warn', json: true }, new LogSink());
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).length;

test('the file is compacted while running: its size follows the live ids, not the total ever seen', async () => {
  const path = join(dir, 'proxy-replay.log');
  const s = new ReplayStore(path, WINDOW, log(), { compactSlack: 50 });
  const t0 = 1_900_000_000;
  await s.open(t0);
  let maxLines = 0;
  // 2,000 ids over 2 h at one every 3.6 s: about 167 live at any time.
  for (let i = 0; i < 2000; i++) {
    expect(await s.add('k', `jti-${i}`, t0 + i * 3.6)).toBe(true);
    maxLines = Math.max(maxLines, lines(path));
  }
  expect(s.entries).toBeLessThanOrEqual(170);
  expect(maxLines).toBeLessThanOrEqual(2 * 170 + 50 + 1);
  expect(statSync(path).mode & 0o777).toBe(0o600);
  const now = t0 + 1999 * 3.6;
  // Still live ids are refused, also after a reopen; long expired ones are not remembered.
  expect(await s.add('k', 'jti-1999', now)).toBe(false);
  await s.close();
  const again = new ReplayStore(path, WINDOW, log(), { compactSlack: 50 });
  await again.open(now);
  expect(await again.add('k', 'jti-1990', now)).toBe(false);
  expect(await again.add('other-key', 'jti-1990', now)).toBe(true);
  expect(await again.add('k', 'jti-0', now)).toBe(true);
  await again.close();
});

test('an id is refused until its window has passed, then accepted again', async () => {
  const s = new ReplayStore(join(dir, 'r.log'), WINDOW, log());
  await s.open(1000);
  expect(await s.add('k', 'a', 1000)).toBe(true);
  expect(await s.add('k', 'a', 1000 + WINDOW)).toBe(false);
  expect(await s.add('k', 'a', 1000 + WINDOW + 2)).toBe(true);
  await s.close();
});

test('memory is bounded: past max the oldest ids are forgotten first', async () => {
  const s = new ReplayStore(join(dir, 'r.log'), WINDOW, log(), { max: 100 });
  await s.open(1000);
  for (let i = 0; i < 300; i++) await s.add('k', `j${i}`, 1000);
  expect(s.entries).toBeLessThanOrEqual(100);
  expect(await s.add('k', 'j299', 1000)).toBe(false);
  await s.close();
});
