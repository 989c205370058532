// alerts.json: repeats inside an alert are saved off the event loop, and a synchronous save of a
// real change (a new alert, an acknowledgement) made meanwhile is never overwritten by that older
// background save.
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AlertFile, type Alert } from '../../src/alerting/alert-store.js';
import { tempDir } from '../support/harness.js';

const alert = (id: string, falls: number): Alert => ({ id, device_id: 'd1', location: 'hall', probability: 0.9, source: 'sensor', time: new Date(0).toISOString(), falls, state: 'open', escalation_step: 0, created_ms: 0, outbox: [] });
const saved = (f: AlertFile) => JSON.parse(readFileSync(f.path, 'utf8')) as { cursor: number; alerts: Alert[] };

test('a background save is written, one at a time', async () => {
  const f = new AlertFile(tempDir());
  const p = f.saveInBackground([alert('a', 2)], 7);
  expect(p).toBeDefined();
  // One is running: the caller keeps its change dirty and tries again on its next tick.
  expect(f.saveInBackground([alert('a', 3)], 8)).toBeUndefined();
  await expect(p).resolves.toBe(true);
  expect(saved(f)).toMatchObject({ cursor: 7, alerts: [{ id: 'a', falls: 2 }] });
  await Promise.resolve();
  await expect(f.saveInBackground([alert('a', 3)], 8)).resolves.toBe(true);
  expect(saved(f)).toMatchObject({ cursor: 8, alerts: [{ id: 'a', falls: 3 }] });
});

test('a synchronous save made while a background save runs wins', async () => {
  const dir = tempDir();
  const f = new AlertFile(dir);
  const background = f.saveInBackground([alert('a', 5)], 10);
  expect(f.save([alert('a', 5), alert('b', 1)], 11)).toBe(true);
  await background;
  expect(saved(f)).toMatchObject({ cursor: 11, alerts: [{ id: 'a' }, { id: 'b' }] });
  expect(readdirSync(dir)).toEqual(['alerts.json']);
  expect(f.load().alerts.map((a) => a.id)).toEqual(['a', 'b']);
});

test('a background save that fails rejects to its caller, and the next one may run', async () => {
  const dir = tempDir();
  const f = new AlertFile(dir);
  // alerts.json is a directory that is not empty: the rename fails after the temp file is written.
  mkdirSync(join(f.path, 'inside'), { recursive: true });
  await expect(f.saveInBackground([alert('a', 1)], 1)).rejects.toThrow();
  expect(readdirSync(dir)).toEqual(['alerts.json']);
  rmSync(f.path, { recursive: true });
  await expect(f.saveInBackground([alert('a', 2)], 2)).resolves.toBe(true);
  expect(saved(f)).toMatchObject({ cursor: 2, alerts: [{ id: 'a', falls: 2 }] });
});
