// A token bucket: `ratePerSec` units flow in each second, at most `capacity` are held. Spending
// may take it below zero (a cost known only afterwards, such as a job's duration); it then waits
// for the refill like any other shortfall.

export class TokenBucket {
  private level: number;
  private at: number;

  constructor(
    readonly ratePerSec: number,
    readonly capacity: number,
    private readonly now: () => number = Date.now,
  ) {
    this.level = capacity;
    this.at = now();
  }

  /** Units held now (may be negative). */
  get available(): number {
    const t = this.now();
    this.level = Math.min(this.capacity, this.level + ((t - this.at) / 1000) * this.ratePerSec);
    this.at = t;
    return this.level;
  }

  spend(units: number): void {
    this.level = this.available - units;
  }

  /** Spends `units` if at least `needed` (default: units) are held. */
  take(units = 1, needed = units): boolean {
    if (this.available < needed) return false;
    this.level -= units;
    return true;
  }

  /** Milliseconds until at least `units` are held (0: now). */
  msUntil(units = 1): number {
    const short = units - this.available;
    return short <= 0 ? 0 : Math.ceil((short / this.ratePerSec) * 1000);
  }
}
