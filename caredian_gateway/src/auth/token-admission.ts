// Token requests are admitted at most `perSec` a second, in turns over source addresses, before
// anything else is done for them. Each costs the main thread ~2 ms (HTTP, body, checks, answer)
// even when refused, so a flood of them from a few dozen addresses used to hold up fall reports
// for seconds; now the flood waits (the attacker's lanes with it). Addresses that were issued a
// token in the last hour go first: a device renewing its token does not wait behind a flood from
// addresses that never got one; the others are served in turns.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TokenBucket } from '../core/token-bucket.js';
import { addressKey } from '../http/address-key.js';

export const TOKEN_PATH = '/auth/cc/token';
const TRUST_MS = 3_600_000;
const MAX_TRUSTED = 10_000;

export interface TokenAdmissionOptions {
  /** Token requests started per second at most (default 50: ~10 % of the main thread). */
  perSec?: number;
  /** Requests one address may have waiting; beyond, 503 at once (default 64). */
  perAddressQueue?: number;
  /** Requests waiting in all; beyond, 503 at once (default 1024). */
  maxQueued?: number;
}

interface Waiting {
  next: () => void;
  gone: boolean;
}

const BUSY_BODY = JSON.stringify({ error: 'temporarily_unavailable', error_description: 'too many token requests; retry shortly' });

export class TokenAdmission {
  private readonly bucket: TokenBucket;
  private readonly perAddressQueue: number;
  private readonly maxQueued: number;
  /** Per address key, in turn order: a key is at the back once its turn is taken. Trusted addresses first. */
  private readonly queues = new Map<string, Waiting[]>();
  private readonly trustedQueues = new Map<string, Waiting[]>();
  /** Address key → until when (ms) it counts as trusted: it was issued a token. */
  private readonly trusted = new Map<string, number>();
  private waiting = 0;
  private timer?: NodeJS.Timeout;
  /** Refused at once (queue full) since start. */
  refused = 0;

  constructor(o: TokenAdmissionOptions = {}) {
    const perSec = Math.max(1, o.perSec ?? 50);
    // A tenth of a second's worth at once: a burst never holds the main thread for long.
    this.bucket = new TokenBucket(perSec, Math.max(1, Math.floor(perSec / 10)));
    this.perAddressQueue = Math.max(1, o.perAddressQueue ?? 64);
    this.maxQueued = Math.max(1, o.maxQueued ?? 1024);
  }

  get queued(): number {
    return this.waiting;
  }

  /** A raw handler: false lets the request go on now; true when it waits (it goes on through `next`) or was refused. */
  handle(req: IncomingMessage, res: ServerResponse, next: () => void): boolean {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== TOKEN_PATH) return false;
    if (this.waiting === 0 && this.bucket.take()) return false;
    const key = addressKey(req.socket.remoteAddress ?? '');
    const queues = (this.trusted.get(key) ?? 0) > Date.now() ? this.trustedQueues : this.queues;
    const q = queues.get(key);
    if ((q?.length ?? 0) >= this.perAddressQueue || this.waiting >= this.maxQueued) {
      this.refused++;
      res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(BUSY_BODY), 'Cache-Control': 'no-store', 'Retry-After': '1', 'X-Content-Type-Options': 'nosniff' });
      res.end(BUSY_BODY);
      return true;
    }
    const w: Waiting = { next, gone: false };
    if (q) q.push(w);
    else queues.set(key, [w]);
    this.waiting++;
    res.once('close', () => {
      if (w.gone) return;
      w.gone = true;
      this.waiting--;
    });
    this.schedule();
    return true;
  }

  /** The address (as the request came from it) was issued a token: it goes first for an hour. */
  trust(remoteAddress: string): void {
    const key = addressKey(remoteAddress);
    this.trusted.delete(key);
    this.trusted.set(key, Date.now() + TRUST_MS);
    // Bounded: the oldest go first (Map keeps insertion order).
    while (this.trusted.size > MAX_TRUSTED) this.trusted.delete(this.trusted.keys().next().value!);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) return;
    const ms = this.bucket.msUntil(1);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, ms);
  }

  private pump(): void {
    while (this.waiting > 0 && this.bucket.available >= 1) {
      const w = this.nextInTurn();
      if (!w) break;
      this.bucket.spend(1);
      w.gone = true;
      this.waiting--;
      w.next();
    }
    if (this.waiting > 0) this.schedule();
  }

  /** The first live request of the address whose turn it is; that address goes to the back. */
  private nextInTurn(): Waiting | undefined {
    return this.turn(this.trustedQueues) ?? this.turn(this.queues);
  }

  private turn(queues: Map<string, Waiting[]>): Waiting | undefined {
    for (const [key, q] of queues) {
      queues.delete(key);
      let w = q.shift();
      while (w?.gone) w = q.shift();
      if (q.length) queues.set(key, q);
      if (w) return w;
    }
    return undefined;
  }
}
