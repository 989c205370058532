import { EventLog } from '../../src/events/event-log.js';
import { EventStore } from '../../src/events/event-store.js';
import { GatewayBus } from '../../src/domain/bus-events.js';
import type { NewRecord } from '../../src/domain/records.js';
import { tempDir } from '../support/harness.js';

const open = async (dir: string) => {
  const s = new EventStore(new EventLog({ dir, maxBytes: 1 << 26, segmentBytes: 1024 }), new GatewayBus(), dir);
  await s.open();
  return s;
};
const fall = (id: string, ts = 1_760_000_000): NewRecord => ({ kind: 'fall', device_id: 'dev', location: 'home', event: 'fall', prob: 0.9, event_id: id, source: 'sensor', ts });

test('retries stay deduplicated and timestamps stay unique across restarts, even after segments are released', async () => {
  const dir = tempDir();
  let s = await open(dir);
  const first = await s.ingest(fall('boot1-1'), 'boot1-1');
  for (let i = 0; i < 30; i++) await s.ingest(fall(`filler-${i}`));
  // Everything written to InfluxDB: the old segments go away.
  s.release(s.lastCommittedSeq);
  await s.close();

  s = await open(dir);
  const retry = await s.ingest(fall('boot1-1'), 'boot1-1');
  expect(retry.duplicate).toBe(true);
  expect(retry.event.kind === 'fall' && retry.event.event_id).toBe('boot1-1');
  const later = await s.ingest(fall('boot2-1'), 'boot2-1');
  expect(later.duplicate).toBe(false);
  // Same second as every earlier event, yet its own timestamp within that millisecond.
  expect(later.event.ts_ns).not.toBe(first.event.ts_ns);
  expect(later.event.ts_ns.slice(0, -6)).toBe(first.event.ts_ns.slice(0, -6));
  await s.close();
});

test('a back-dated event keeps its time even after newer events of the same device', async () => {
  const s = await open(tempDir());
  await s.ingest({ kind: 'heartbeat', device_id: 'dev', ts: 1_760_000_500 });
  const old = await s.ingest(fall('late-report', 1_760_000_000.25));
  expect(old.event.ts_ns.slice(0, -6)).toBe('1760000000250');
  await s.close();
});

test('a failed append does not leave the event id reserved', async () => {
  const dir = tempDir();
  class FailingOnce extends EventLog {
    failed = false;
    override append(items: Parameters<EventLog['append']>[0]) {
      if (!this.failed) {
        this.failed = true;
        return Promise.reject(new Error('disk full'));
      }
      return super.append(items);
    }
  }
  const s = new EventStore(new FailingOnce({ dir, maxBytes: 1 << 20 }), new GatewayBus(), dir);
  await s.open();
  await expect(s.ingest(fall('b'), 'b')).rejects.toThrow(/disk full/);
  // The device retries the same event: it must be stored now, not answered as a duplicate.
  const retry = await s.ingest(fall('b'), 'b');
  expect(retry.duplicate).toBe(false);
  expect(s.lastCommittedSeq).toBe(1);
  await s.close();
});

test("a device's stored event id keeps what the device said, from the log and from state.json after its segments are released", async () => {
  const dir = tempDir();
  let s = await open(dir);
  await s.ingest({ kind: 'fall', device_id: 'dev', location: 'bath', event: 'fall', prob: 0.42, event_id: 'kept-1', source: 'sensor', ts: 1_760_000_000.25 }, 'kept-1');
  const facts = { eventId: 'kept-1', facts: { event: 'fall', prob: 0.42, location: 'bath', tsMs: 1_760_000_000_250 } };
  expect(s.known('dev', 'kept-1')).toEqual(facts);
  expect(s.known('other-dev', 'kept-1')).toBeUndefined();
  await s.close();
  // Read back from the log.
  s = await open(dir);
  expect(s.known('dev', 'kept-1')).toEqual(facts);
  for (let i = 0; i < 30; i++) await s.ingest(fall(`filler-${i}`));
  s.release(s.lastCommittedSeq);
  await s.close();
  // The log no longer holds it: read back from state.json.
  s = await open(dir);
  expect([...s.scan()].some((r) => r.kind === 'fall' && r.event_id === 'kept-1')).toBe(false);
  expect(s.known('dev', 'kept-1')).toEqual(facts);
  await s.close();
});
