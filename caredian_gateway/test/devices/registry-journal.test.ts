// The device registry persists what changed (an append-only journal, folded into devices.json
// only when it has grown), instead of rewriting the whole list every second.
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeviceRegistry } from '../../src/devices/registry.js';
import type { DeviceState } from '../../src/domain/devices.js';
import { ADMIN_TOKEN, startGateway, tempDir, waitFor, type Harness } from '../support/harness.js';

const dataDir = tempDir();
const snapshot = join(dataDir, 'devices.json');
const journal = join(dataDir, 'devices.journal');
const size = (p: string) => (existsSync(p) ? statSync(p).size : 0);
const journalLines = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as DeviceState) : []);
const heartbeat = async (h: Harness, body: unknown) =>
  (await fetch(`${h.url}/devices/heartbeat`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${await h.token('devices:write')}` }, body: JSON.stringify(body) })).status;
const listed = async (h: Harness) => ((await (await fetch(`${h.adminUrl}/api/devices`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { devices: DeviceState[] }).devices;

let h: Harness;
afterAll(async () => {
  await h?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

test('with 300 devices known, one heartbeat appends one line to the journal and leaves devices.json alone', async () => {
  h = await startGateway({}, { dataDir, keepData: true });
  const reg = h.gw.module(DeviceRegistry)!;
  for (let i = 0; i < 300; i++) reg.touch(`bulk-${i}`, 'esp32-01');
  await waitFor(() => journalLines().length >= 300, 5000, 'the first journal append');
  // A restart folds the journal into the snapshot.
  await h.close();
  expect(size(journal)).toBe(0);
  expect((JSON.parse(readFileSync(snapshot, 'utf8')) as unknown[]).length).toBe(300);

  h = await startGateway({}, { dataDir, keepData: true });
  const snap = statSync(snapshot);
  expect(await heartbeat(h, { device_id: 'bulk-7', battery: 61 })).toBe(200);
  await waitFor(() => journalLines().length > 0, 5000, 'the journal append');
  await new Promise((r) => setTimeout(r, 1500)); // another flush period: nothing else is written
  expect(journalLines()).toEqual([expect.objectContaining({ device_id: 'bulk-7', battery: 61 })]);
  expect(size(journal)).toBeLessThan(400);
  const after = statSync(snapshot);
  expect([after.ino, after.mtimeMs, after.size]).toEqual([snap.ino, snap.mtimeMs, snap.size]);
});

test('after a crash the journal is replayed over the snapshot, a torn last line ignored', async () => {
  // Simulate a crash: the journal as the running gateway left it, plus a line cut short.
  const kept = readFileSync(journal, 'utf8');
  await h.close();
  writeFileSync(journal, kept + JSON.stringify({ device_id: 'bulk-8', first_seen: new Date().toISOString(), last_seen: new Date().toISOString(), online: true, battery: 5 }) + '\n{"device_id":"bulk-9","bat');
  rmSync(snapshot);
  writeFileSync(snapshot, JSON.stringify([{ device_id: 'bulk-7', first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-01T00:00:00.000Z', online: false }]));
  h = await startGateway({}, { dataDir, keepData: true });
  const devices = await listed(h);
  expect(devices.map((d) => [d.device_id, d.battery])).toEqual([['bulk-7', 61], ['bulk-8', 5]]);
  expect(size(journal)).toBe(0);
});

test('a journal grown past 1 MB (and past the snapshot) is folded into devices.json', async () => {
  const reg = h.gw.module(DeviceRegistry)!;
  for (let i = 0; i < 8000; i++) reg.touch(`many-${i}`, 'esp32-01');
  await waitFor(() => size(snapshot) > 1024 * 1024 && size(journal) === 0, 10_000, 'the compaction');
  expect((JSON.parse(readFileSync(snapshot, 'utf8')) as unknown[]).length).toBe(8002);
  // Removing a device is journaled too.
  expect(reg.remove('many-1')).toBe(true);
  await waitFor(() => journalLines().some((l) => l.device_id === 'many-1' && 'removed' in l), 5000, 'the removal in the journal');
  await h.close();
  h = await startGateway({}, { dataDir, keepData: true });
  expect(h.gw.module(DeviceRegistry)!.has('many-1')).toBe(false);
  expect(h.gw.module(DeviceRegistry)!.size).toBe(8001);
});

test('a change made while a flush is writing is journaled by the next flush', async () => {
  const reg = h.gw.module(DeviceRegistry)!;
  const inFlight = reg as unknown as { saving?: Promise<void> };
  const before = inFlight.saving;
  reg.touch('during-0', 'esp32-01');
  // Polled from the check phase: the timer's flush has begun and its file writes cannot be done yet.
  await new Promise<void>((resolve) => {
    const poll = () => (inFlight.saving !== before ? resolve() : setImmediate(poll));
    poll();
  });
  reg.touch('during-1', 'esp32-01');
  await waitFor(() => journalLines().some((l) => l.device_id === 'during-1'), 5000, 'the change made during a flush');
});
