// Client-secret hashing on dedicated worker threads. Async crypto.scrypt runs on libuv's shared
// 4-thread pool, the same one the event log's fs writes and fsyncs use, so a flood of token
// requests used to stall ingest. The workers run scryptSync on their own threads instead, and the
// queue in front of them is bounded: when it is full, `derive` fails at once with HashPoolBusy.
// Workers start with the first job and stop after a minute without one: a worker thread is a
// whole V8 instance (~9 MB), and an idle gateway sees a token request an hour per device.
import { Worker } from 'node:worker_threads';
import type { ScryptOptions } from 'node:crypto';
import { TokenBucket } from '../core/token-bucket.js';

export class HashPoolBusy extends Error {
  constructor() {
    super('secret hashing queue is full');
  }
}

export interface HashPoolOptions {
  /** Worker threads at most (default 1: the main thread keeps the other core of a small host). */
  workers?: number;
  /** An idle worker stops after this long without a job (default 60 s). */
  idleMs?: number;
  /** Jobs waiting for a worker before new ones are refused (default 32). */
  maxQueue?: number;
  /** Secrets hashed per second at most, across the pool (default 8). */
  maxPerSec?: number;
  /**
   * The share of one core the pool may spend hashing, measured (default 0.2): scrypt takes 50 ms
   * on a fast core and three times that on a Raspberry Pi, so a count alone cannot bound it. A
   * flood of token requests then cannot take a core from ingest; the queue waits for the budget,
   * and past the queue requests are refused at once.
   */
  maxCoreShare?: number;
  keylen: number;
  params: ScryptOptions;
}

interface Job {
  secrets: string[];
  salt: Buffer;
  resolve: (keys: Buffer[]) => void;
  reject: (e: Error) => void;
}

// Plain JS, evaluated in the worker, so it runs the same from dist/ and under ts-jest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', ({ secrets, salt }) => {
  try {
    parentPort.postMessage({ keys: secrets.map((s) => scryptSync(s, salt, workerData.keylen, workerData.params)) });
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.message) || e) });
  }
});
`;

class HashWorker {
  private readonly worker: Worker;
  job?: Job;

  private startedAt = 0;

  constructor(o: HashPoolOptions, onIdle: (w: HashWorker, hashed: number, ms: number) => void, onDead: (w: HashWorker) => void) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { keylen: o.keylen, params: o.params } });
    this.worker.unref();
    this.worker.on('message', (m: { keys?: Uint8Array[]; error?: string }) => {
      const job = this.finish();
      if (m.keys) job?.resolve(m.keys.map((k) => Buffer.from(k.buffer, k.byteOffset, k.byteLength)));
      else job?.reject(new Error(m.error ?? 'hashing failed'));
      onIdle(this, m.keys?.length ?? 0, performance.now() - this.startedAt);
    });
    let dead = false;
    const died = (e: unknown) => {
      if (dead) return;
      dead = true;
      this.finish()?.reject(e instanceof Error ? e : new Error('hash worker exited'));
      onDead(this);
    };
    this.worker.on('error', died);
    this.worker.on('exit', died);
  }

  run(job: Job): void {
    this.job = job;
    this.startedAt = performance.now();
    // Referenced only while busy: an idle pool never keeps the process alive, a busy one does.
    this.worker.ref();
    this.worker.postMessage({ secrets: job.secrets, salt: job.salt });
  }

  private finish(): Job | undefined {
    const job = this.job;
    this.job = undefined;
    this.worker.unref();
    return job;
  }

  terminate(): Promise<number> {
    this.finish()?.reject(new Error('hash pool closed'));
    this.worker.removeAllListeners('exit');
    return this.worker.terminate();
  }
}

export class HashPool {
  private readonly idle: HashWorker[] = [];
  private readonly all = new Set<HashWorker>();
  private readonly queue: Job[] = [];
  private readonly maxQueue: number;
  private closed = false;
  /** Secrets a second, holding at most one second's worth. */
  private readonly secrets: TokenBucket;
  /** Milliseconds of hashing the pool may still spend: refilled at share × 1000 per second, charged what each job took. */
  private readonly hashingMs: TokenBucket;
  private wake?: NodeJS.Timeout;
  private retire?: NodeJS.Timeout;
  private respawn?: NodeJS.Timeout;
  /** A worker died: no new one before this time, so a worker that cannot start does not spin. */
  private noSpawnUntil = 0;
  private readonly maxWorkers: number;
  private readonly idleMs: number;
  /** Secrets hashed since start (tests and benchmarks read it). */
  hashed = 0;

  constructor(private readonly o: HashPoolOptions) {
    this.maxQueue = o.maxQueue ?? 32;
    const perSec = o.maxPerSec ?? 8;
    this.secrets = new TokenBucket(perSec, perSec);
    const msPerSec = Math.min(1, Math.max(0.01, o.maxCoreShare ?? 0.2)) * 1000;
    this.hashingMs = new TokenBucket(msPerSec, msPerSec);
    this.maxWorkers = Math.max(1, o.workers ?? 1);
    this.idleMs = o.idleMs ?? 60_000;
  }

  /** Worker threads running now (started by work, stopped when idle). */
  get workers(): number {
    return this.all.size;
  }

  get queued(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.all.size - this.idle.length;
  }

  /** scrypt of each secret with `salt`, as one job. Rejects with HashPoolBusy when the queue is full. */
  derive(secrets: string[], salt: Buffer): Promise<Buffer[]> {
    if (this.closed) return Promise.reject(new Error('hash pool closed'));
    // Jobs beyond the queue only while a worker is free or could start (one waiting for the budget counts once).
    const free = this.idle.length + Math.max(0, this.maxWorkers - this.all.size);
    if (this.queue.length >= this.maxQueue + free) return Promise.reject(new HashPoolBusy());
    return new Promise((resolve, reject) => {
      this.queue.push({ secrets, salt, resolve, reject });
      this.next();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.wake);
    clearTimeout(this.retire);
    clearTimeout(this.respawn);
    for (const j of this.queue.splice(0)) j.reject(new Error('hash pool closed'));
    await Promise.all([...this.all].map((w) => w.terminate()));
    this.all.clear();
    this.idle.length = 0;
  }

  private spawn(): void {
    const w = new HashWorker(
      this.o,
      (done, hashed, ms) => {
        this.hashed += hashed;
        this.hashingMs.spend(ms);
        this.idle.push(done);
        this.next();
      },
      (dead) => {
        this.all.delete(dead);
        const i = this.idle.indexOf(dead);
        if (i >= 0) this.idle.splice(i, 1);
        // A replacement only after a pause; meanwhile the queue fills and requests get HashPoolBusy.
        this.noSpawnUntil = Date.now() + 1000;
        this.next();
      },
    );
    this.all.add(w);
    this.idle.push(w);
  }

  /** Starts a worker for waiting work when there are fewer than the maximum. */
  private grow(): void {
    if (this.closed || this.queue.length <= this.idle.length || this.all.size >= this.maxWorkers) return;
    const wait = this.noSpawnUntil - Date.now();
    if (wait > 0) {
      this.respawn ??= setTimeout(() => {
        this.respawn = undefined;
        this.next();
      }, wait);
      return;
    }
    this.spawn();
  }

  /** Stops the idle workers once none has had a job for idleMs. */
  private scheduleRetire(): void {
    clearTimeout(this.retire);
    this.retire = undefined;
    if (this.closed || this.queue.length || this.idle.length !== this.all.size || this.all.size === 0) return;
    this.retire = setTimeout(() => {
      this.retire = undefined;
      if (this.queue.length || this.idle.length !== this.all.size) return;
      for (const w of this.idle.splice(0)) {
        this.all.delete(w);
        void w.terminate();
      }
    }, this.idleMs);
    this.retire.unref();
  }

  private next(): void {
    this.grow();
    this.scheduleRetire();
    while (this.idle.length && this.queue.length) {
      // A job may start while hashing time is not overspent (its own cost is charged when it ends).
      const overspent = this.hashingMs.msUntil(0);
      if (overspent > 0) return this.wakeIn(overspent);
      // A job of more secrets than a second's worth needs only a full bucket.
      const cost = this.queue[0]!.secrets.length;
      const needed = Math.min(cost, this.secrets.capacity);
      if (!this.secrets.take(cost, needed)) return this.wakeIn(this.secrets.msUntil(needed));
      this.idle.pop()!.run(this.queue.shift()!);
    }
  }

  private wakeIn(ms: number): void {
    if (this.wake || this.closed) return;
    this.wake = setTimeout(() => {
      this.wake = undefined;
      this.next();
    }, Math.max(1, ms));
  }
}
