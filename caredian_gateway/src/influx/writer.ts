// Drains the event log into InfluxDB 1.x in batches. At-least-once delivery with deterministic
// timestamps: a batch re-sent after a crash or an outage overwrites its own points, so every
// event is stored exactly once. Points InfluxDB rejects go to a dead-letter file, never dropped.
import { existsSync, readFileSync, appendFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import { writeFileAtomicAsync } from '../core/files.js';
import type { EventStore } from '../events/event-store.js';
import type { StoredEvent } from '../domain/records.js';
import { toPoint } from './points.js';

export interface InfluxWriterOptions {
  database: string;
  measurement: string;
  createDatabase: boolean;
  dir: string;
  batchMax?: number;
  batchWaitMs?: number;
  backoffMaxMs?: number;
}

type Outcome = 'ok' | 'retry';

const CURSOR_SAVE_EVERY_MS = 1000;

export class InfluxWriter implements GatewayModule {
  readonly name = 'influx-writer';
  private cursor = 0;
  private running = false;
  private loopDone?: Promise<void>;
  private wake?: () => void;
  private failures = 0;
  private state: { ready: boolean; detail: string } = { ready: false, detail: 'starting' };
  private written = 0;
  private deadLettered = 0;
  private lastDeadLetterReason?: string;
  private dbChecked = false;
  private offCommitted?: () => void;
  /** When the oldest record not yet written was received (epoch ms), as of the last batch read. */
  private oldestPendingMs = 0;
  private savedCursor = 0;
  private cursorSavedAtMs = 0;
  private readonly cursorPath: string;
  readonly deadLetterPath: string;
  private readonly batchMax: number;
  private readonly batchWaitMs: number;
  private readonly backoffMaxMs: number;

  constructor(
    private readonly influx: InfluxDB,
    private readonly store: EventStore,
    private readonly log: Logger,
    private readonly o: InfluxWriterOptions,
  ) {
    this.cursorPath = join(o.dir, 'influx.cursor');
    this.deadLetterPath = join(o.dir, 'dead-letter.ndjson');
    this.batchMax = o.batchMax ?? 5000;
    this.batchWaitMs = o.batchWaitMs ?? 100;
    this.backoffMaxMs = o.backoffMaxMs ?? 30_000;
  }

  async start(): Promise<void> {
    if (existsSync(this.cursorPath)) this.cursor = Number(readFileSync(this.cursorPath, 'utf8').trim()) || 0;
    this.savedCursor = this.cursor;
    // Known before the first batch is read, so a writer that cannot reach InfluxDB reports its lag.
    this.oldestPendingMs = this.store.readAfter(this.cursor, 1)[0]?.received_ms ?? 0;
    this.running = true;
    this.offCommitted = this.store.onCommitted(this.onCommitted);
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.offCommitted?.();
    this.wake?.();
    await this.loopDone;
    await this.saveCursor().catch((err: unknown) => this.log.error({ err }, 'could not save the InfluxDB cursor'));
  }

  status(): ModuleStatus {
    const s: ModuleStatus = {
      ...this.state,
      cursor: this.cursor,
      backlog: Math.max(0, this.store.lastCommittedSeq - this.cursor),
      written: this.written,
      dead_lettered: this.deadLettered,
    };
    // Not in InfluxDB, and no longer in the log once its segment is released: a person must know.
    if (this.deadLettered) s.warning = `InfluxDB refused ${this.deadLettered} point(s) since start; they are kept only in ${this.deadLetterPath} (last reason: ${this.lastDeadLetterReason})`;
    return s;
  }

  /** How far behind the log InfluxDB is: the age of the oldest record not yet written, as of the last batch read (0 when caught up). */
  lagMs(now = Date.now()): number {
    if (this.store.lastCommittedSeq <= this.cursor || !this.oldestPendingMs) return 0;
    return Math.max(0, now - this.oldestPendingMs);
  }

  private onCommitted = () => this.wake?.();

  private sleep(ms: number): Promise<void> {
    // stop() may have come while the loop awaited something else: its wake-up found no sleep.
    if (!this.running) return Promise.resolve();
    return new Promise((res) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        res();
      }
      this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        if (!this.dbChecked && !(await this.ensureDatabase())) {
          await this.sleep(this.backoff());
          continue;
        }
        if (this.store.lastCommittedSeq <= this.cursor) {
          await this.saveCursor();
          // Records committed while the cursor was saved found no sleep to wake: write them now.
          if (this.store.lastCommittedSeq > this.cursor) continue;
          if (!this.state.ready && this.failures === 0) this.state = { ready: true, detail: 'idle' };
          await this.sleep(30_000);
          continue;
        }
        // Let a batch gather unless there is already a full one waiting.
        if (this.store.lastCommittedSeq - this.cursor < this.batchMax) await delay(this.batchWaitMs);
        const batch = this.store.readAfter(this.cursor, this.batchMax);
        if (batch.length === 0) continue;
        this.oldestPendingMs = batch[0]!.received_ms;
        const outcome = await this.writeBatch(batch);
        if (outcome === 'retry') {
          await this.sleep(this.backoff());
          continue;
        }
        this.failures = 0;
        await this.advance(batch.at(-1)!.seq);
        this.state = { ready: true, detail: 'writing' };
      } catch (err) {
        this.log.error({ err }, 'influx writer loop error');
        await this.sleep(this.backoff());
      }
    }
  }

  private async advance(seq: number): Promise<void> {
    this.cursor = seq;
    // The next record's arrival is known once the loop reads it, a batch wait from now.
    this.oldestPendingMs = 0;
    // The saved cursor only says where to resume after a restart, and a resent point overwrites
    // itself (same series, same timestamp): under load it is saved once a second, not after every
    // batch (each save is two fsyncs on the disk the event log commits to).
    if (Date.now() - this.cursorSavedAtMs >= CURSOR_SAVE_EVERY_MS) await this.saveCursor();
  }

  /** Saves the cursor if it moved, then releases the log segments InfluxDB now holds. */
  private async saveCursor(): Promise<void> {
    const seq = this.cursor;
    if (seq === this.savedCursor) return;
    this.cursorSavedAtMs = Date.now();
    await writeFileAtomicAsync(this.cursorPath, String(seq), 0o644);
    this.savedCursor = seq;
    this.store.release(seq);
  }

  private backoff(): number {
    this.failures++;
    const base = Math.min(this.backoffMaxMs, 100 * 2 ** Math.min(this.failures, 20));
    return base / 2 + Math.random() * (base / 2);
  }

  private async ensureDatabase(): Promise<boolean> {
    try {
      const names = await this.influx.getDatabaseNames();
      if (!names.includes(this.o.database)) {
        if (!this.o.createDatabase) {
          this.state = { ready: false, detail: `database "${this.o.database}" does not exist and INFLUX_CREATE_DB is off` };
          return false;
        }
        await this.influx.createDatabase(this.o.database);
        this.log.info({ database: this.o.database }, 'created InfluxDB database');
      }
      this.dbChecked = true;
      this.state = { ready: true, detail: 'connected' };
      return true;
    } catch (err) {
      this.state = { ready: false, detail: `InfluxDB unreachable: ${describe(err)}` };
      if (this.failures % 10 === 0) this.log.warn({ reason: describe(err) }, 'InfluxDB unreachable; events stay in the log');
      return false;
    }
  }

  /** Writes a batch; on a point-level rejection, bisects to isolate and dead-letter the bad points. */
  private async writeBatch(batch: StoredEvent[]): Promise<Outcome> {
    try {
      await this.influx.writePoints(batch.map((r) => toPoint(r, this.o.measurement)), { precision: 'n', database: this.o.database });
      this.written += batch.length;
      return 'ok';
    } catch (err) {
      const status = statusOf(err);
      const text = describe(err);
      if (status === 404 || /database not found/i.test(text)) {
        this.dbChecked = false;
        this.state = { ready: false, detail: `database "${this.o.database}" not found` };
        return 'retry';
      }
      if (status === 400 || status === 413 || status === 422) {
        if (batch.length === 1) {
          this.deadLetter(batch[0]!, text);
          return 'ok';
        }
        const mid = batch.length >> 1;
        for (const half of [batch.slice(0, mid), batch.slice(mid)]) {
          if ((await this.writeBatch(half)) === 'retry') return 'retry';
        }
        return 'ok';
      }
      this.state = { ready: false, detail: `InfluxDB write failed: ${text}` };
      if (this.failures % 10 === 0) this.log.warn({ reason: text, backlog: this.store.lastCommittedSeq - this.cursor }, 'InfluxDB write failed; will retry');
      return 'retry';
    }
  }

  private deadLetter(r: StoredEvent, reason: string): void {
    const line = JSON.stringify({ at: new Date().toISOString(), reason, record: r }) + '\n';
    appendFileSync(this.deadLetterPath, line, { mode: 0o600 });
    const fd = openSync(this.deadLetterPath, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.deadLettered++;
    this.lastDeadLetterReason = reason.slice(0, 200);
    this.log.error({ seq: r.seq, kind: r.kind, device_id: r.device_id, reason }, 'InfluxDB rejected a point; moved to dead-letter file');
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

function statusOf(err: unknown): number | undefined {
  return (err as { res?: { statusCode?: number } }).res?.statusCode;
}

function describe(err: unknown): string {
  const e = err as { message?: string; code?: string };
  return (e.message || e.code || String(err)).slice(0, 300);
}
