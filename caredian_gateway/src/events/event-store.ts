// Ingest path on top of the log: idempotent retries, unique nanosecond timestamps, durable
// append, then the event bus. Retry ids that outlive released segments sit in state.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/files.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { EventLog } from './event-log.js';
import type { NewRecord, StoredEvent } from '../domain/records.js';

const DEDUPE_WINDOW_MS = 24 * 3600_000;
const DEDUPE_MAX = 1_000_000;

/** What a device said in a fall report, as kept beside its event id to judge a retry. */
export interface StoredFallFacts {
  event: string;
  prob: number;
  location: string;
  /** The event's time in epoch milliseconds. */
  tsMs: number;
}

/** A device event id already stored: the event id and, unless from an older snapshot, the facts. */
export interface KnownEvent {
  eventId: string;
  facts?: StoredFallFacts;
}

interface Snapshot {
  ids: [key: string, eventId: string, atMs: number, facts?: [event: string, prob: number, location: string, tsMs: number]][];
}

/**
 * The point's time in InfluxDB: the event's millisecond, plus the record's sequence number modulo
 * 10^6 in the sub-millisecond digits. Sequence numbers are unique and durable, so two records can
 * share a timestamp only if they happened in the same millisecond a million records apart: nothing a
 * device sends overwrites another point, back-dated events keep their time, and a replay after a
 * crash rewrites exactly the same point.
 */
export function pointTimeNs(tsSeconds: number, seq: number): string {
  return (BigInt(Math.round(tsSeconds * 1000)) * 1_000_000n + BigInt(seq % 1_000_000)).toString();
}

export interface IngestResult {
  event: StoredEvent;
  duplicate: boolean;
}

export class EventStore {
  /** (device, client event id) → the stored event id, when it was accepted and what it said. */
  private ids = new Map<string, { eventId: string; at: number; facts?: StoredFallFacts }>();
  private readonly statePath: string;
  /** Told how long each durable append took, from the append to its fsync (seconds). */
  private commitObserver?: (seconds: number) => void;

  constructor(
    private readonly log: EventLog,
    private readonly bus: GatewayBus,
    dir: string,
  ) {
    this.statePath = join(dir, 'state.json');
  }

  async open(): Promise<void> {
    if (existsSync(this.statePath)) {
      const s = JSON.parse(readFileSync(this.statePath, 'utf8')) as Snapshot;
      const cutoff = Date.now() - DEDUPE_WINDOW_MS;
      for (const [k, eventId, at, f] of s.ids) if (at > cutoff) this.ids.set(k, { eventId, at, facts: f && { event: f[0], prob: f[1], location: f[2], tsMs: f[3] } });
    }
    await this.log.open((r) => this.observe(r));
  }

  private observe(r: StoredEvent): void {
    if (r.kind === 'fall' && Date.now() - r.received_ms < DEDUPE_WINDOW_MS)
      this.ids.set(idKey(r.device_id, r.event_id), { eventId: r.event_id, at: r.received_ms, facts: { event: r.event, prob: r.prob, location: r.location, tsMs: Number(BigInt(r.ts_ns) / 1_000_000n) } });
  }

  /** The event a device already stored under `clientEventId` within the retry window, if any. */
  known(deviceId: string, clientEventId: string): KnownEvent | undefined {
    const seen = this.ids.get(idKey(deviceId, clientEventId));
    if (!seen || Date.now() - seen.at >= DEDUPE_WINDOW_MS) return undefined;
    return { eventId: seen.eventId, facts: seen.facts };
  }

  /**
   * Stores one record durably. When `clientEventId` is given (a fall's event id chosen by the
   * device), a retry within a day returns the first stored event instead of storing a second.
   */
  async ingest(rec: NewRecord, clientEventId?: string): Promise<IngestResult> {
    const results = await this.ingestMany([{ rec, clientEventId }]);
    return results[0]!;
  }

  async ingestMany(items: { rec: NewRecord; clientEventId?: string }[]): Promise<IngestResult[]> {
    const out: (IngestResult | undefined)[] = [];
    const fresh: { i: number; key?: string; rec: StoredEvent; ts: number }[] = [];
    const now = Date.now();
    for (const [i, { rec, clientEventId }] of items.entries()) {
      const key = clientEventId !== undefined ? idKey(rec.device_id, clientEventId) : undefined;
      const seen = key ? this.ids.get(key) : undefined;
      if (seen && now - seen.at < DEDUPE_WINDOW_MS) {
        out[i] = { event: { ...rec, ts_ns: '0', seq: 0, received_ms: seen.at, event_id: seen.eventId } as StoredEvent, duplicate: true };
        continue;
      }
      const { ts, ...body } = rec;
      // Reserve the id now so a concurrent retry of the same event is seen as a duplicate.
      if (key && body.kind === 'fall') this.ids.set(key, { eventId: body.event_id, at: now, facts: { event: body.event, prob: body.prob, location: body.location, tsMs: Math.round(ts * 1000) } });
      const stored = body as StoredEvent;
      stored.ts_ns = '';
      stored.seq = 0;
      stored.received_ms = now;
      fresh.push({ i, key, rec: stored, ts });
    }
    if (fresh.length) {
      let stored: StoredEvent[];
      const appendedAt = performance.now();
      try {
        stored = await this.log.append(
          fresh.map((f) => f.rec),
          (r, i) => (r.ts_ns = pointTimeNs(fresh[i]!.ts, r.seq)),
        );
      } catch (e) {
        for (const f of fresh) if (f.key) this.ids.delete(f.key);
        throw e;
      }
      this.commitObserver?.((performance.now() - appendedAt) / 1000);
      for (const [j, f] of fresh.entries()) out[f.i] = { event: stored[j]!, duplicate: false };
      this.trimIds();
      for (const ev of stored) this.bus.emit('event.stored', ev);
    }
    return out as IngestResult[];
  }

  private trimIds(): void {
    const cutoff = Date.now() - DEDUPE_WINDOW_MS;
    for (const [k, v] of this.ids) {
      if (v.at > cutoff && this.ids.size <= DEDUPE_MAX) break;
      this.ids.delete(k);
    }
  }

  /** Releases log segments up to `seq` after saving the state they carried. */
  release(seq: number): void {
    if (!this.log.canRelease(seq)) return;
    this.saveSnapshot();
    this.log.release(seq);
  }

  expireBefore(cutoffMs: number): void {
    this.saveSnapshot();
    this.log.expireBefore(cutoffMs);
  }

  private saveSnapshot(): void {
    const snap: Snapshot = { ids: [...this.ids].map(([k, v]) => (v.facts ? [k, v.eventId, v.at, [v.facts.event, v.facts.prob, v.facts.location, v.facts.tsMs]] : [k, v.eventId, v.at])) };
    writeFileAtomic(this.statePath, JSON.stringify(snap));
  }

  async close(): Promise<void> {
    await this.log.close();
  }

  get lastCommittedSeq(): number {
    return this.log.lastCommittedSeq;
  }

  /** Records and segment files not yet released (or expired). */
  get retained(): { records: number; segments: number } {
    return this.log.retained;
  }

  /** Tells `fn` the duration of every durable append from now on (one observer: the metrics). */
  observeCommits(fn: (seconds: number) => void): void {
    this.commitObserver = fn;
  }

  get sizeBytes(): number {
    return this.log.sizeBytes;
  }

  get maxBytes(): number {
    return this.log.maxBytes;
  }

  /** True when another record would be refused with backpressure. */
  get full(): boolean {
    return this.log.full;
  }

  /** The data directory is full (nothing can be written until there is space). */
  get diskFull(): boolean {
    return this.log.diskFull;
  }

  get healthy(): { ok: boolean; error?: string } {
    return this.log.healthy;
  }

  /** Up to `max` committed records with seq > `after`, in order. */
  readAfter(after: number, max: number): StoredEvent[] {
    return this.log.readAfter(after, max);
  }

  /** Every retained record, oldest first. */
  scan(): Generator<StoredEvent> {
    return this.log.scan();
  }

  /** Calls `fn` after each group commit; returns the unsubscribe function. */
  onCommitted(fn: (seq: number) => void): () => void {
    this.log.on('committed', fn);
    return () => this.log.off('committed', fn);
  }
}

function idKey(deviceId: string, eventId: string): string {
  return `${deviceId}\u0000${eventId}`;
}
