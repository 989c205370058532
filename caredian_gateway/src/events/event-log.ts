// The durable, append-only event log. An append resolves only after its bytes are fsync'd;
// concurrent appends share one write and one fdatasync (group commit).
import { EventEmitter } from 'node:events';
import { constants as fsc, mkdirSync, openSync, closeSync, rmSync, statSync, truncateSync, unlinkSync, write } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { fsyncDir, isDiskFull } from '../core/files.js';
import { encodeRecord, listSegments, readRecords, segmentName } from './segment-files.js';
import type { StoredEvent } from '../domain/records.js';

const RECORD_BYTES_GUESS = 256;

export class BackpressureError extends Error {
  constructor(readonly retryAfterSec: number) {
    super('event log is full');
  }
}

export class StorageError extends Error {}

/** Refused without touching the disk: the disk is full (see EventLog.diskFull). */
export class DiskFullError extends StorageError {
  constructor() {
    super('the disk is full');
  }
}

export interface EventLogOptions {
  dir: string;
  maxBytes: number;
  segmentBytes?: number;
  /** Roll the active segment after this long, so old data can be released or expire. */
  segmentMaxAgeMs?: number;
  /** Committed records kept in memory for the writer's fast path. */
  cacheRecords?: number;
}

interface Waiter {
  data: string;
  bytes: number;
  records: StoredEvent[];
  resolve: (r: StoredEvent[]) => void;
  reject: (e: Error) => void;
}

/** Batches whose writes may run at once (acknowledged in order), on a disk slow enough to need it. */
const WRITES_IN_FLIGHT = 4;
/**
 * Another write starts only once the newest one in flight has taken this long. On a disk that
 * commits in well under a millisecond, one write at a time makes the largest group commits (the
 * fewest writes and thread-pool wake-ups: a fifth less CPU per fall report on the 2-vCPU test VM,
 * BENCHMARKS.md); on a slow or busy disk, overlapping writes keep the queue moving.
 */
const PIPELINE_AFTER_MS = 2;

interface InFlight {
  batch: Waiter[];
  buf: Buffer;
  /** Offset in the active segment. */
  at: number;
  startedMs: number;
  settled: boolean;
  error?: unknown;
  done: Promise<void>;
}

interface Segment {
  firstSeq: number;
  path: string;
  size: number;
}

export class EventLog extends EventEmitter<{ committed: [number] }> {
  private segments: Segment[] = [];
  private fh?: FileHandle;
  private activeSize = 0;
  private activeOpenedAt = Date.now();
  private nextSeq = 1;
  private committed = 0;
  private totalBytes = 0;
  private pending: Waiter[] = [];
  private pendingBytes = 0;
  private inflightBytes = 0;
  /** Wakes the flush loop when an append arrives while it waits for a write. */
  private wake?: () => void;
  private flushing?: Promise<void>;
  private lastError?: string;
  private recent: StoredEvent[] = [];
  private cacheFrom = 0;
  private readPos?: { path: string; offset: number; lastSeq: number };
  private readonly segmentBytes: number;
  private readonly segmentMaxAgeMs: number;
  private readonly cacheRecords: number;
  /**
   * Set when a write failed for lack of space (or a probe found none); appends are refused, so
   * nothing is half-written, until whoever probes for space (the storage module) clears it.
   */
  diskFull = false;

  constructor(private readonly o: EventLogOptions) {
    super();
    this.segmentBytes = o.segmentBytes ?? 16 * 1024 * 1024;
    this.segmentMaxAgeMs = o.segmentMaxAgeMs ?? 24 * 3600_000;
    this.cacheRecords = o.cacheRecords ?? 50_000;
  }

  /** Recovers the log: cuts a torn tail, then calls `visit` for every retained record in order. */
  async open(visit?: (r: StoredEvent) => void): Promise<void> {
    // Fall events are health data: owner-only.
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    const found = listSegments(this.o.dir);
    for (const [i, s] of found.entries()) {
      let offset = 0;
      const size = statSync(s.path).size;
      while (offset < size) {
        const { records, next, corruptAt } = readRecords(s.path, offset, 8 * 1024 * 1024);
        for (const r of records) {
          visit?.(r);
          this.committed = Math.max(this.committed, r.seq);
        }
        if (corruptAt !== undefined || next === offset) {
          // Only the newest segment can have a torn tail; anything else is real corruption.
          if (i !== found.length - 1) throw new StorageError(`event log segment ${s.path} is corrupt at byte ${corruptAt ?? next}`);
          truncateSync(s.path, next);
          break;
        }
        offset = next;
      }
      const finalSize = statSync(s.path).size;
      this.segments.push({ firstSeq: s.firstSeq, path: s.path, size: finalSize });
      this.totalBytes += finalSize;
    }
    this.nextSeq = Math.max(this.committed + 1, (this.segments.at(-1)?.firstSeq ?? 1));
    this.cacheFrom = this.committed;
    if (this.segments.length === 0) await this.roll();
    else {
      const last = this.segments.at(-1)!;
      this.fh = await open(last.path, fsc.O_RDWR | fsc.O_DSYNC);
      this.activeSize = last.size;
      this.activeOpenedAt = Date.now();
    }
  }

  get lastCommittedSeq(): number {
    return this.committed;
  }

  /** Records and segment files still on disk (not yet released or expired). */
  get retained(): { records: number; segments: number } {
    const first = this.segments[0]?.firstSeq ?? this.committed + 1;
    return { records: Math.max(0, this.committed - first + 1), segments: this.segments.length };
  }

  get sizeBytes(): number {
    return this.totalBytes + this.pendingBytes + this.inflightBytes;
  }

  get maxBytes(): number {
    return this.o.maxBytes;
  }

  /** True when another record would be refused: backpressure, or the disk is full. */
  get full(): boolean {
    return this.diskFull || this.sizeBytes + RECORD_BYTES_GUESS > this.o.maxBytes;
  }

  get healthy(): { ok: boolean; error?: string } {
    return this.lastError ? { ok: false, error: this.lastError } : { ok: true };
  }

  /**
   * Assigns sequence numbers in place (and `received_ms` when 0), calling `sequenced` on each record
   * once it has one and before it is encoded; resolves once the records are on disk.
   */
  append(items: StoredEvent[], sequenced?: (r: StoredEvent, index: number) => void): Promise<StoredEvent[]> {
    if (!this.fh) return Promise.reject(new StorageError('event log is closed'));
    if (this.diskFull) return Promise.reject(new DiskFullError());
    const bytesGuess = items.length * RECORD_BYTES_GUESS;
    if (this.sizeBytes + bytesGuess > this.o.maxBytes) return Promise.reject(new BackpressureError(5));
    const now = Date.now();
    const records = items;
    let data = '';
    for (const [i, r] of records.entries()) {
      r.seq = this.nextSeq++;
      if (!r.received_ms) r.received_ms = now;
      sequenced?.(r, i);
      data += encodeRecord(r);
    }
    const bytes = Buffer.byteLength(data);
    return new Promise<StoredEvent[]>((resolve, reject) => {
      this.pending.push({ data, bytes, records, resolve, reject });
      this.pendingBytes += bytes;
      this.flushing ??= this.flushLoop();
      this.wake?.();
    });
  }

  /**
   * Group commit, pipelined: each batch is one positional O_DSYNC write at the offset reserved for
   * it; up to WRITES_IN_FLIGHT run at once (a virtual disk serves concurrent writes far faster than
   * one after another), and batches are acknowledged strictly in order, so an acknowledged record
   * never follows one that is not on disk. After a crash, a later batch written before an earlier
   * one leaves a hole: recovery cuts the segment there, and nothing cut was acknowledged.
   */
  private async flushLoop(): Promise<void> {
    const inflight: InFlight[] = [];
    // Set by the first failed write: every later batch fails too, and the segment is cut back here once the writes in flight are done.
    let failedAt: number | undefined;
    // A roll that found no room is tried again by the next flush, not before every write of this one.
    let stay = false;
    try {
      while (this.pending.length || inflight.length) {
        const rollDue = !stay && (this.activeSize >= this.segmentBytes || (this.activeSize > 0 && Date.now() - this.activeOpenedAt > this.segmentMaxAgeMs));
        const canAdd = inflight.length < WRITES_IN_FLIGHT && failedAt === undefined && !rollDue;
        const newestFor = inflight.length ? performance.now() - inflight.at(-1)!.startedMs : Infinity;
        if (this.pending.length && canAdd && newestFor >= PIPELINE_AFTER_MS) {
          inflight.push(this.startWrite());
          continue;
        }
        if (!inflight.length) {
          // Only a roll (or a cut) stands between the pending batch and its write.
          if (rollDue) stay = !(await this.rollOrStay());
          continue;
        }
        const oldest = inflight[0]!;
        if (!oldest.settled) {
          // Wait for the oldest write, or for whatever lets another write start meanwhile: a new
          // append, or the newest write in flight turning slow.
          const more = !canAdd ? undefined : this.pending.length === 0 ? new Promise<void>((r) => (this.wake = r)) : delay(PIPELINE_AFTER_MS - newestFor);
          await (more ? Promise.race([oldest.done, more]) : oldest.done);
          this.wake = undefined;
          if (!oldest.settled) continue;
        }
        inflight.shift();
        this.inflightBytes -= oldest.buf.length;
        if (oldest.error || failedAt !== undefined) {
          failedAt ??= oldest.at;
          if (oldest.error && isDiskFull(oldest.error)) this.diskFull = true;
          this.lastError = `event log write failed: ${((oldest.error ?? new Error('an earlier write failed')) as Error).message}`;
          const err = new StorageError(this.lastError);
          for (const w of oldest.batch) w.reject(err);
          if (!inflight.length) {
            // Cut whatever part of the failed batches reached the file, so the next batch starts on a clean line.
            await this.fh!.truncate(failedAt).catch(() => undefined);
            this.activeSize = failedAt;
            failedAt = undefined;
          }
          continue;
        }
        this.lastError = undefined;
        this.totalBytes += oldest.buf.length;
        this.segments.at(-1)!.size = oldest.at + oldest.buf.length;
        for (const w of oldest.batch) {
          for (const r of w.records) this.remember(r);
          w.resolve(w.records);
        }
        this.emit('committed', this.committed);
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private startWrite(): InFlight {
    const batch = this.pending;
    this.pending = [];
    const bytes = batch.reduce((n, w) => n + w.bytes, 0);
    this.pendingBytes -= bytes;
    const buf = Buffer.from(batch.map((w) => w.data).join(''));
    this.inflightBytes += buf.length;
    const at = this.activeSize;
    this.activeSize += buf.length;
    const f: InFlight = { batch, buf, at, startedMs: performance.now(), settled: false, done: Promise.resolve() };
    f.done = this.writeAt(this.fh!, buf, at).then(
      () => void (f.settled = true),
      (e: unknown) => {
        f.settled = true;
        f.error = e;
      },
    );
    return f;
  }

  /** Rolls to a new segment; false when the disk has no room for one (the current one then takes the next writes). */
  private async rollOrStay(): Promise<boolean> {
    try {
      await this.roll();
      return true;
    } catch (e) {
      // Out of space (or inodes) for a new segment.
      if (!isDiskFull(e)) throw e;
      this.diskFull = true;
      return false;
    }
  }

  /** fs.write on the handle's descriptor: the callback form costs the event loop less than FileHandle.write per commit. */
  private writeAt(fh: FileHandle, buf: Buffer, at: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const step = (off: number): void => {
        write(fh.fd, buf, off, buf.length - off, at + off, (err, n) => {
          if (err) reject(err);
          else if (off + n < buf.length) step(off + n);
          else resolve();
        });
      };
      step(0);
    });
  }

  private remember(r: StoredEvent): void {
    this.committed = r.seq;
    this.recent.push(r);
    if (this.recent.length > this.cacheRecords * 1.25) {
      const drop = this.recent.length - this.cacheRecords;
      this.cacheFrom = this.recent[drop - 1]!.seq;
      this.recent = this.recent.slice(drop);
    }
  }

  private async roll(): Promise<void> {
    // Appends made while this awaits get later numbers: all of them land in the new segment.
    const firstSeq = this.nextSeq;
    const path = join(this.o.dir, segmentName(firstSeq));
    let fh: FileHandle;
    try {
      closeSync(openSync(path, 'a', 0o600));
      fsyncDir(this.o.dir);
      fh = await open(path, fsc.O_RDWR | fsc.O_DSYNC);
    } catch (e) {
      // The current segment stays active: no empty segment may be left ahead of its records.
      if (this.fh) rmSync(path, { force: true });
      throw e;
    }
    await this.fh?.close();
    this.fh = fh;
    this.segments.push({ firstSeq, path, size: 0 });
    this.activeSize = 0;
    this.activeOpenedAt = Date.now();
  }

  /** Up to `max` committed records with seq > `after`, in order. */
  readAfter(after: number, max: number): StoredEvent[] {
    if (after >= this.committed) return [];
    if (after >= this.cacheFrom) {
      let lo = 0;
      let hi = this.recent.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.recent[mid]!.seq <= after) lo = mid + 1;
        else hi = mid;
      }
      return this.recent.slice(lo, lo + max);
    }
    return this.readFromFiles(after, max);
  }

  private readFromFiles(after: number, max: number): StoredEvent[] {
    const out: StoredEvent[] = [];
    let idx = this.segments.findLastIndex((s) => s.firstSeq <= after + 1);
    if (idx < 0) idx = 0;
    let pos = this.readPos && this.readPos.lastSeq === after && this.segments[idx]?.path === this.readPos.path ? this.readPos.offset : 0;
    while (idx < this.segments.length && out.length < max) {
      const seg = this.segments[idx]!;
      const end = seg.size;
      if (pos >= end) {
        idx++;
        pos = 0;
        continue;
      }
      const { records, ends, next } = readRecords(seg.path, pos, 4 * 1024 * 1024, end);
      if (next === pos) break;
      for (const [i, r] of records.entries()) {
        if (r.seq <= after) continue;
        out.push(r);
        this.readPos = { path: seg.path, offset: ends[i]!, lastSeq: r.seq };
        if (out.length >= max) return out;
      }
      pos = next;
    }
    return out;
  }

  canRelease(upTo: number): boolean {
    return this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= upTo;
  }

  /** Deletes closed segments whose every record has seq <= `upTo`. */
  release(upTo: number): number {
    let n = 0;
    while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1 <= upTo) {
      const s = this.segments.shift()!;
      this.totalBytes -= s.size;
      if (this.readPos?.path === s.path) this.readPos = undefined;
      unlinkSync(s.path);
      n++;
    }
    if (n) fsyncDir(this.o.dir);
    return n;
  }

  /** Deletes closed segments last written before `cutoffMs` (embedded-store retention). */
  expireBefore(cutoffMs: number): number {
    let n = 0;
    while (this.segments.length > 1 && statSync(this.segments[0]!.path).mtimeMs < cutoffMs) {
      const s = this.segments.shift()!;
      this.totalBytes -= s.size;
      unlinkSync(s.path);
      n++;
    }
    return n;
  }

  /** Every retained record, oldest first, for the embedded store's queries. */
  *scan(): Generator<StoredEvent> {
    for (const s of [...this.segments]) {
      let pos = 0;
      while (pos < s.size) {
        const { records, next } = readRecords(s.path, pos, 4 * 1024 * 1024, s.size);
        yield* records;
        if (next === pos) break;
        pos = next;
      }
    }
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
  }
}
