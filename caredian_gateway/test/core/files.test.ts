import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicAsync, writeFileAtomicAsyncUnlessStale } from '../../src/core/files.js';
import { tempDir } from '../support/harness.js';

test('overlapping sync and async atomic writes of one file never leave it torn or leave temp files', async () => {
  const dir = tempDir();
  const path = join(dir, 'devices.json');
  const payload = (n: number) => JSON.stringify({ n, pad: 'x'.repeat(200_000 + n * 997) });
  const pending: Promise<void>[] = [];
  for (let n = 0; n < 20; n++) {
    pending.push(writeFileAtomicAsync(path, payload(n)));
    // A sync save (as on stop) while async ones are in flight.
    if (n % 5 === 4) writeFileAtomic(path, payload(100 + n));
  }
  await Promise.all(pending);
  const content = JSON.parse(readFileSync(path, 'utf8')) as { n: number; pad: string };
  expect(readFileSync(path, 'utf8')).toBe(payload(content.n));
  expect(readdirSync(dir)).toEqual(['devices.json']);
});

test.each([
  ['sync', (path: string) => Promise.resolve().then(() => writeFileAtomic(path, 'new'))],
  ['async', (path: string) => writeFileAtomicAsync(path, 'new')],
])('a failed atomic write (%s) removes its temp file', async (_how, write) => {
  const dir = tempDir();
  // The target is a directory that is not empty, so the final rename fails after the temp file is written.
  const path = join(dir, 'clients.json');
  mkdirSync(join(path, 'inside'), { recursive: true });
  await expect(write(path)).rejects.toThrow();
  expect(readdirSync(dir)).toEqual(['clients.json']);
  expect(readdirSync(path)).toEqual(['inside']);
});

test('an async save overtaken by a sync save of the same file is dropped, never renamed over it', async () => {
  const dir = tempDir();
  const path = join(dir, 'alerts.json');
  let generation = 1;
  const older = writeFileAtomicAsyncUnlessStale(path, 'older', 0o600, () => generation === 1);
  // The synchronous save lands while the older content is still being written.
  generation = 2;
  writeFileAtomic(path, 'newer');
  await expect(older).resolves.toBe(false);
  expect(readFileSync(path, 'utf8')).toBe('newer');
  expect(readdirSync(dir)).toEqual(['alerts.json']);
  // Still wanted: written as writeFileAtomicAsync would.
  await expect(writeFileAtomicAsyncUnlessStale(path, 'latest', 0o600, () => true)).resolves.toBe(true);
  expect(readFileSync(path, 'utf8')).toBe('latest');
});
