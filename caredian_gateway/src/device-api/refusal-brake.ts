// A client whose requests keep being refused is slowed down before its next bodies are read.
// Refusing a device-port request can cost as much as storing one (a 117 KB IMU chunk is read and
// parsed before its device id can be refused), so a client flooding refused requests used to take
// the main thread from everyone else. Per client: refusals spend from a bucket of `perSec` a
// second (a quarter second's worth at most, so a burst stays short); while it is empty, that
// client's requests wait, in order, until it refills. Other clients never wait, and a client
// that is not being refused never does.

import { TokenBucket } from '../core/token-bucket.js';

export interface RefusalBrakeOptions {
  /** Refusals a second a client may have without being slowed (default 20). */
  perSec?: number;
  /** Requests of one client waiting at most; beyond, the caller refuses at once (default 64). */
  maxWaiting?: number;
}

interface ClientState {
  refusals: TokenBucket;
  waiting: (() => void)[];
  timer?: NodeJS.Timeout;
}

export class RefusalBrake {
  private readonly perSec: number;
  private readonly maxWaiting: number;
  private readonly burst: number;
  private readonly clients = new Map<string, ClientState>();
  /** Requests that waited since start (the metrics and tests read it). */
  slowed = 0;

  constructor(o: RefusalBrakeOptions = {}) {
    this.perSec = Math.max(1, o.perSec ?? 20);
    this.maxWaiting = Math.max(1, o.maxWaiting ?? 64);
    this.burst = Math.max(1, this.perSec / 4);
  }

  /**
   * Resolves true when the client's request may go on (at once unless the client is being
   * refused faster than perSec), false when too many of its requests wait already.
   */
  admit(clientId: string): Promise<boolean> | true {
    const c = this.clients.get(clientId);
    if (!c) return true;
    if (c.refusals.available >= 1 && c.waiting.length === 0) return true;
    if (c.waiting.length >= this.maxWaiting) return Promise.resolve(false);
    this.slowed++;
    return new Promise((resolve) => {
      c.waiting.push(() => resolve(true));
      this.schedule(clientId, c);
    });
  }

  /** The client's request was refused. */
  refused(clientId: string): void {
    let c = this.clients.get(clientId);
    if (!c) this.clients.set(clientId, (c = { refusals: new TokenBucket(this.perSec, this.burst), waiting: [] }));
    c.refusals.spend(1);
  }

  close(): void {
    for (const c of this.clients.values()) {
      clearTimeout(c.timer);
      for (const go of c.waiting.splice(0)) go();
    }
    this.clients.clear();
  }

  /**
   * Lets the waiting requests go one at a time, at most perSec a second: the one let go may be
   * refused and spend the token it went on, which the next must wait for.
   */
  private schedule(clientId: string, c: ClientState, atLeastMs = 0): void {
    if (c.timer) return;
    const ms = Math.max(atLeastMs, c.refusals.msUntil(1));
    c.timer = setTimeout(() => {
      c.timer = undefined;
      let gap = 0;
      if (c.refusals.available >= 1) {
        c.waiting.shift()?.();
        gap = Math.ceil(1000 / this.perSec);
      }
      if (c.waiting.length) this.schedule(clientId, c, gap);
    }, ms);
    c.timer.unref();
  }
}
