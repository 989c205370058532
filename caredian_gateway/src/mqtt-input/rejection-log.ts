// Rejected MQTT messages, logged at most once a minute: a device stuck sending a bad body (or a
// stranger on the broker) must not flood the log. The ones in between are counted in the next line.
import type { Logger } from '../core/logger.js';

export class RejectionLog {
  private suppressed = 0;
  private lastMs = -Infinity;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(fields: Record<string, unknown>): void {
    const t = this.now();
    if (t - this.lastMs < this.everyMs) {
      this.suppressed++;
      return;
    }
    this.log.warn({ ...fields, ...(this.suppressed ? { rejected_since_last_line: this.suppressed } : {}) }, 'MQTT message rejected (answered on the device\'s error topic; logged at most once a minute)');
    this.lastMs = t;
    this.suppressed = 0;
  }
}
