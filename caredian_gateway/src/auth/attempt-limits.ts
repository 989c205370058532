// Limits on POST /auth/cc/token, per source address:
// - failed authentications of one client id from one address lock that pair out for the window
//   (the real device on another address is unaffected);
// - failed authentications from one address, whatever the client id, lock the address out;
// - every request from one address counts toward a per-minute cap, high enough for a burst of
//   valid requests (which are cheap once verified) and low enough to bound the work one address
//   can cause.
// Only failures count toward lockouts. Attempts still being hashed count as possible failures of
// their pair, so concurrent guesses cannot overshoot the lockout; identical attempts (a device's
// burst of the same valid request) count once.

export interface AttemptLimitSettings {
  /** Failed attempts for one client id from one address per window (default 10). */
  failuresPerClientIp: number;
  /** Failed attempts from one address per window, any client id (default 30). */
  failuresPerIp: number;
  /** Token requests from one address per minute, any outcome (default 300). */
  requestsPerIpPerMinute: number;
  /** Lockout window (default 10 minutes). */
  windowMs: number;
}

export const DEFAULT_ATTEMPT_LIMITS: AttemptLimitSettings = { failuresPerClientIp: 10, failuresPerIp: 30, requestsPerIpPerMinute: 300, windowMs: 10 * 60_000 };

const MAX_KEYS = 100_000;

/** Fixed-window counts per key, bounded in memory (the oldest keys are dropped first). */
export class WindowCounter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(private readonly windowMs: number) {}

  count(key: string, now = Date.now()): { count: number; resetAt: number } {
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) return { count: 0, resetAt: now + this.windowMs };
    return w;
  }

  add(key: string, now = Date.now()): number {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.delete(key);
      if (this.windows.size >= MAX_KEYS) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(key, w);
    }
    return ++w.count;
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    while (this.windows.size >= MAX_KEYS) this.windows.delete(this.windows.keys().next().value!);
  }
}

export type Refusal = { why: 'requests' | 'client_address' | 'address'; retryAfterSeconds: number };

export class TokenAttemptLimits {
  private readonly requests = new WindowCounter(60_000);
  private readonly pairFailures: WindowCounter;
  private readonly ipFailures: WindowCounter;
  private readonly pending = new Map<string, Map<string, number>>();

  constructor(private readonly s: AttemptLimitSettings = DEFAULT_ATTEMPT_LIMITS) {
    this.pairFailures = new WindowCounter(s.windowMs);
    this.ipFailures = new WindowCounter(s.windowMs);
  }

  /** Counts a request from `ip`; a refusal when the address is over its per-minute cap. */
  admitRequest(ip: string, now = Date.now()): Refusal | undefined {
    const n = this.requests.add(ip, now);
    if (n <= this.s.requestsPerIpPerMinute) return undefined;
    return { why: 'requests', retryAfterSeconds: secondsUntil(this.requests.count(ip, now).resetAt, now) };
  }

  /** A refusal when the address or the (client id, address) pair is locked out. */
  lockout(ip: string, clientId: string, attempt: string, now = Date.now()): Refusal | undefined {
    const byIp = this.ipFailures.count(ip, now);
    if (byIp.count >= this.s.failuresPerIp) return { why: 'address', retryAfterSeconds: secondsUntil(byIp.resetAt, now) };
    const pair = pairKey(ip, clientId);
    const byPair = this.pairFailures.count(pair, now);
    const others = [...(this.pending.get(pair)?.keys() ?? [])].filter((k) => k !== attempt).length;
    if (byPair.count + others >= this.s.failuresPerClientIp) return { why: 'client_address', retryAfterSeconds: byPair.count >= this.s.failuresPerClientIp ? secondsUntil(byPair.resetAt, now) : 1 };
    return undefined;
  }

  /**
   * Marks an attempt as being checked; call the returned function with its outcome. It says which
   * lockout a failure has just started, so that is logged once, not for every refused request.
   */
  begin(ip: string, clientId: string, attempt: string): (outcome: 'ok' | 'failed' | 'not_checked') => Refusal['why'] | undefined {
    const pair = pairKey(ip, clientId);
    const attempts = this.pending.get(pair) ?? new Map<string, number>();
    this.pending.set(pair, attempts);
    attempts.set(attempt, (attempts.get(attempt) ?? 0) + 1);
    let ended = false;
    return (outcome) => {
      if (ended) return undefined;
      ended = true;
      const left = (attempts.get(attempt) ?? 1) - 1;
      if (left > 0) attempts.set(attempt, left);
      else attempts.delete(attempt);
      if (attempts.size === 0 && this.pending.get(pair) === attempts) this.pending.delete(pair);
      if (outcome !== 'failed') return undefined;
      const byPair = this.pairFailures.add(pair);
      const byIp = this.ipFailures.add(ip);
      if (byIp === this.s.failuresPerIp) return 'address';
      return byPair === this.s.failuresPerClientIp ? 'client_address' : undefined;
    };
  }
}

const pairKey = (ip: string, clientId: string) => JSON.stringify([ip, clientId]);
const secondsUntil = (t: number, now: number) => Math.max(1, Math.ceil((t - now) / 1000));
