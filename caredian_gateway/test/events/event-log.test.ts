import { appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventLog, BackpressureError } from '../../src/events/event-log.js';
import { listSegments } from '../../src/events/segment-files.js';
import type { StoredEvent } from '../../src/domain/records.js';
import { tempDir } from '../support/harness.js';

const rec = (i: number): StoredEvent => ({ kind: 'fall', device_id: `d${i % 3}`, location: 'home', event: 'fall', prob: 0.5, event_id: `e${i}`, source: 'sensor', ts_ns: String(1_700_000_000_000_000_000n + BigInt(i)), seq: 0, received_ms: 0 });

test('concurrent appends share commits (group commit) and get consecutive sequence numbers', async () => {
  const log = new EventLog({ dir: tempDir(), maxBytes: 1 << 26 });
  await log.open();
  let commits = 0;
  log.on('committed', () => commits++);
  const results = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append([rec(i)])));
  expect(results.map((r) => r[0]!.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
  expect(commits).toBeLessThan(500 / 5);
  expect(log.lastCommittedSeq).toBe(500);
  await log.close();
});

test('reopening recovers every record; a torn last line is cut off', async () => {
  const dir = tempDir();
  const log = new EventLog({ dir, maxBytes: 1 << 26 });
  await log.open();
  await Promise.all(Array.from({ length: 50 }, (_, i) => log.append([rec(i)])));
  await log.close();
  const seg = listSegments(dir).at(-1)!.path;
  const good = statSync(seg).size;
  appendFileSync(seg, '0badc0de {"kind":"fall","device_id":"torn');
  const again = new EventLog({ dir, maxBytes: 1 << 26 });
  const seen: number[] = [];
  await again.open((r) => seen.push(r.seq));
  expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(statSync(seg).size).toBe(good);
  const [next] = await again.append([rec(99)]);
  expect(next!.seq).toBe(51);
  await again.close();
});

test('a corrupt record in an older segment is an error, not silently skipped', async () => {
  const dir = tempDir();
  const log = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 2048 });
  await log.open();
  for (let i = 0; i < 40; i++) await log.append([rec(i)]);
  await log.close();
  const first = listSegments(dir)[0]!.path;
  const text = readFileSync(first, 'utf8');
  writeFileSync(first, text.replace('"prob":0.5', '"prob":0.6'));
  await expect(new EventLog({ dir, maxBytes: 1 << 26 }).open()).rejects.toThrow(/corrupt/);
});

test('readAfter serves from memory and, for old records, from the segment files', async () => {
  const dir = tempDir();
  const log = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 4096, cacheRecords: 10 });
  await log.open();
  for (let i = 0; i < 200; i++) await log.append([rec(i)]);
  expect(listSegments(dir).length).toBeGreaterThan(3);
  // Walk the whole log in pages, as the InfluxDB writer does.
  const seqs: number[] = [];
  for (let after = 0; ; ) {
    const page = log.readAfter(after, 7);
    if (!page.length) break;
    seqs.push(...page.map((r) => r.seq));
    after = page.at(-1)!.seq;
  }
  expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  expect(log.readAfter(195, 100).map((r) => (r.kind === 'fall' ? r.event_id : ''))).toEqual(['e195', 'e196', 'e197', 'e198', 'e199']);
  // After a restart nothing is cached: everything comes from files.
  await log.close();
  const again = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 4096 });
  await again.open();
  expect(again.readAfter(100, 3).map((r) => r.seq)).toEqual([101, 102, 103]);
  await again.close();
});

test('release deletes only fully consumed, closed segments', async () => {
  const dir = tempDir();
  const log = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 4096 });
  await log.open();
  for (let i = 0; i < 100; i++) await log.append([rec(i)]);
  const before = listSegments(dir);
  log.release(0);
  expect(listSegments(dir)).toEqual(before);
  const secondFirst = before[1]!.firstSeq;
  log.release(secondFirst - 1);
  expect(listSegments(dir).map((s) => s.firstSeq)).toEqual(before.slice(1).map((s) => s.firstSeq));
  log.release(100);
  expect(listSegments(dir)).toHaveLength(1);
  expect(log.readAfter(0, 1000).length).toBeGreaterThan(0);
  await log.close();
});

test('the size limit refuses appends with BackpressureError instead of growing', async () => {
  const log = new EventLog({ dir: tempDir(), maxBytes: 20_000 });
  await log.open();
  let refused: unknown;
  for (let i = 0; i < 1000 && !refused; i++) await log.append([rec(i)]).catch((e: unknown) => (refused = e));
  expect(refused).toBeInstanceOf(BackpressureError);
  expect(log.sizeBytes).toBeLessThanOrEqual(20_000);
  expect(log.full).toBe(true);
  await log.close();
});

test('segment file names sort by first sequence number', async () => {
  const dir = tempDir();
  const log = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 1024 });
  await log.open();
  for (let i = 0; i < 30; i++) await log.append([rec(i)]);
  await log.close();
  const segs = listSegments(dir);
  expect(segs.map((s) => s.firstSeq)).toEqual([...segs.map((s) => s.firstSeq)].sort((a, b) => a - b));
  expect(segs[0]!.path).toBe(join(dir, 'seg-0000000000000001.log'));
});

test('appending to a recovered segment that is already over size works, then a new segment starts', async () => {
  const dir = tempDir();
  const big = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 1 << 20 });
  await big.open();
  for (let i = 0; i < 20; i++) await big.append([rec(i)]);
  await big.close();
  const small = new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 1024 });
  await small.open();
  const [r] = await small.append([rec(20)]);
  expect(r!.seq).toBe(21);
  await small.close();
  expect(listSegments(dir)).toHaveLength(2);
});

test('commits acknowledge in order, never ahead of an earlier batch', async () => {
  const log = new EventLog({ dir: tempDir(), maxBytes: 1 << 26, segmentBytes: 8192 });
  await log.open();
  const order: number[] = [];
  const all = Array.from({ length: 2000 }, (_, i) => log.append([rec(i)]).then(([r]) => order.push(r!.seq)));
  await Promise.all(all);
  expect(order).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  await log.close();
  const again = new EventLog({ dir: (log as unknown as { o: { dir: string } }).o.dir, maxBytes: 1 << 26 });
  const seen: number[] = [];
  await again.open((r) => seen.push(r.seq));
  expect(seen).toEqual(order);
  await again.close();
});
