// The one-time ids (jti) of accepted signed requests, remembered until their iat could no longer
// pass, and durably, so that a restart does not let a captured request be replayed.
// DATA_DIR/proxy-replay.log (0600) is append-only, one `<expiry epoch s> <id>` line per accepted
// request, where <id> is a 132-bit hash of key name and jti. An id is in memory at once (so a
// concurrent duplicate is refused) and fdatasync'd before add() resolves, i.e. before the request
// is forwarded; concurrent adds share one write and one sync. The file is rewritten with only the
// live ids on open and whenever it has grown to mostly expired lines.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { isDiskFull, writeFileAtomic, writeFileAtomicAsync } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import type { ReplayGuard } from './signature.js';

const LINE = /^(\d{1,12}) ([A-Za-z0-9_-]{22})$/;
export interface ReplayStoreLimits {
  /** Memory bound: past it the oldest ids are forgotten early. */
  max?: number;
  /** Rewrite once the file holds this many lines more than twice the live ids. */
  compactSlack?: number;
}

interface Waiter {
  line: string;
  resolve: () => void;
  reject: (e: Error) => void;
}

export class ReplayStore implements ReplayGuard {
  /** id → expiry (epoch s), in insertion order, so expired ids are at the front. */
  private seen = new Map<string, number>();
  private fh?: FileHandle;
  private isOpen = false;
  private size = 0;
  private linesInFile = 0;
  private compactAt = 0;
  private pending: Waiter[] = [];
  private flushing?: Promise<void>;
  private lastNowS = 0;
  private lastError?: string = 'the replay log is not open';
  private readonly max: number;
  private readonly compactSlack: number;

  constructor(
    private readonly path: string,
    private readonly windowS: number,
    private readonly log: Logger,
    limits: ReplayStoreLimits = {},
  ) {
    this.max = limits.max ?? 1_000_000;
    this.compactSlack = limits.compactSlack ?? 10_000;
  }

  get entries(): number {
    return this.seen.size;
  }

  /** Why signed requests are being refused, if they are. */
  get problem(): string | undefined {
    return this.lastError;
  }

  /** Reads back the live ids (a torn last line from a crash is dropped: its add never resolved) and compacts. */
  async open(nowS = Date.now() / 1000): Promise<void> {
    if (existsSync(this.path)) {
      for (const line of readFileSync(this.path, 'latin1').split('\n')) {
        const m = LINE.exec(line);
        if (!m || Number(m[1]) <= nowS) continue;
        this.seen.delete(m[2]!);
        this.seen.set(m[2]!, Number(m[1]));
      }
    }
    this.sweep(nowS);
    const data = this.serialize();
    try {
      writeFileAtomic(this.path, data, 0o600);
      this.size = Buffer.byteLength(data);
      this.linesInFile = this.seen.size;
    } catch (err) {
      // A full disk: keep the file as it is (every live id is in it) and append to it when there is room.
      if (!isDiskFull(err) || !existsSync(this.path)) throw err;
      this.size = statSync(this.path).size;
      this.linesInFile = this.size ? readFileSync(this.path, 'latin1').split('\n').length : 0;
    }
    this.compactAt = 2 * this.seen.size + this.compactSlack;
    this.fh = await open(this.path, 'a', 0o600);
    this.isOpen = true;
    this.lastError = undefined;
  }

  add(key: string, jti: string, nowS: number): Promise<boolean> {
    if (!this.isOpen) return Promise.reject(new Error('the replay store is not open'));
    this.lastNowS = nowS;
    this.sweep(nowS);
    const id = createHash('sha256').update(key).update('\u0000').update(jti).digest('base64url').slice(0, 22);
    if (this.seen.has(id)) return Promise.resolve(false);
    // +1: at exactly iat + MAX_SKEW_S the token still passes.
    const until = Math.ceil(nowS + this.windowS) + 1;
    this.seen.set(id, until);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ line: `${until} ${id}\n`, resolve: () => resolve(true), reject });
      this.flushing ??= this.flushLoop();
    });
  }

  async close(): Promise<void> {
    this.isOpen = false;
    while (this.flushing) await this.flushing;
    await this.fh?.close();
    this.fh = undefined;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending;
        this.pending = [];
        try {
          await this.append(Buffer.from(batch.map((w) => w.line).join(''), 'latin1'));
        } catch (e) {
          // The ids stay in memory: refused here until restart rather than risking a replay.
          this.lastError = `replay log write failed: ${(e as Error).message}`;
          for (const w of batch) w.reject(new Error(this.lastError));
          continue;
        }
        this.lastError = undefined;
        this.linesInFile += batch.length;
        for (const w of batch) w.resolve();
        if (this.linesInFile > this.compactAt) {
          await this.compact().catch((err: unknown) => {
            this.compactAt = this.linesInFile + this.compactSlack;
            this.log.error({ err }, 'could not compact the replay log');
          });
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  private async append(buf: Buffer): Promise<void> {
    const fh = this.fh;
    if (!fh) throw new Error('the replay log could not be reopened after compaction');
    try {
      for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off)).bytesWritten;
      await fh.datasync();
    } catch (e) {
      // Cut a partly written batch so the next one starts on a clean line.
      await fh.truncate(this.size).catch(() => undefined);
      throw e;
    }
    this.size += buf.length;
  }

  /** Rewrites the file with the live ids only; runs inside the flush loop, so no append interleaves. */
  private async compact(): Promise<void> {
    this.sweep(this.lastNowS);
    const data = this.serialize();
    await writeFileAtomicAsync(this.path, data, 0o600);
    // From here the old handle writes to a replaced file: without a new one, appends fail (closed).
    const old = this.fh;
    this.fh = undefined;
    await old?.close().catch(() => undefined);
    this.fh = await open(this.path, 'a', 0o600);
    this.size = Buffer.byteLength(data);
    this.linesInFile = this.seen.size;
    this.compactAt = 2 * this.seen.size + this.compactSlack;
  }

  private serialize(): string {
    let s = '';
    for (const [id, until] of this.seen) s += `${until} ${id}\n`;
    return s;
  }

  private sweep(nowS: number): void {
    for (const [id, until] of this.seen) {
      if (until > nowS && this.seen.size < this.max) break;
      this.seen.delete(id);
    }
  }
}
