// The durable event log as a module: opened first and closed last, its readiness check, the
// embedded store's retention, and GET /api/events (from InfluxDB when configured, else the log).
// On a full disk the gateway runs degraded: events are refused (503, nothing half-written) and
// /ready says so, until a probe finds room again.
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';
import { hasFreeSpace } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import { Timers, type GatewayModule, type ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { EventLog } from './event-log.js';
import { EventStore } from './event-store.js';
import { eventsRouter } from './events-route.js';

const RETENTION_SWEEP_MS = 3600_000;
/** How often a full disk is probed for room (the Retry-After of refused events). */
const SPACE_PROBE_MS = 5000;
/** Room the disk must have to leave the disk-full state: a burst of events and the state files. */
const SPACE_NEEDED_BYTES = 64 * 1024;

export class StorageModule implements GatewayModule {
  readonly name = 'storage';
  readonly store: EventStore;
  readonly dir: string;
  private readonly timers = new Timers();
  private readonly eventLog: EventLog;
  private probing = false;
  private diskFullLogged = false;

  constructor(
    private readonly c: Config,
    bus: GatewayBus,
    private readonly log: Logger,
    /** Set when InfluxDB holds the events: it answers queries, and it owns retention. */
    private readonly influx?: InfluxDB,
  ) {
    this.dir = join(c.data_dir, 'eventlog');
    this.eventLog = new EventLog({ dir: this.dir, maxBytes: c.event_log_max_mb * 1024 * 1024 });
    this.store = new EventStore(this.eventLog, bus, this.dir);
  }

  async start(): Promise<void> {
    await this.store.open();
    if (!(await hasFreeSpace(this.c.data_dir, SPACE_NEEDED_BYTES))) this.eventLog.diskFull = true;
    this.watchSpace();
    this.timers.every(SPACE_PROBE_MS, () => void this.probeSpace());
    if (!this.influx) this.timers.every(RETENTION_SWEEP_MS, () => this.sweep());
  }

  /** Logs a full disk once, however it was found (the probe, or a failed event write). */
  private watchSpace(): void {
    if (this.eventLog.diskFull === this.diskFullLogged) return;
    this.diskFullLogged = this.eventLog.diskFull;
    if (this.diskFullLogged) this.log.error({ data_dir: this.c.data_dir }, 'disk full: events are refused (503) until there is room again');
    // Warn, like the error it ends, so whoever reads one sees the other.
    else this.log.warn({ data_dir: this.c.data_dir }, 'disk has room again: events are accepted');
  }

  private async probeSpace(): Promise<void> {
    this.watchSpace();
    if (!this.eventLog.diskFull || this.probing) return;
    this.probing = true;
    try {
      if (await hasFreeSpace(this.c.data_dir, SPACE_NEEDED_BYTES)) this.eventLog.diskFull = false;
    } catch (err) {
      this.log.error({ err }, 'could not probe the data directory for free space');
    } finally {
      this.probing = false;
    }
    this.watchSpace();
  }

  private sweep(): void {
    try {
      this.store.expireBefore(Date.now() - this.c.event_retention_days * 86400_000);
    } catch (err) {
      // A full disk (the state file cannot be saved first) must not take the process down.
      this.log.error({ err }, 'event retention sweep failed; it runs again in an hour');
    }
  }

  async stop(): Promise<void> {
    this.timers.clear();
    await this.store.close();
  }

  status(): ModuleStatus {
    const s = this.store;
    const h = s.healthy;
    const sizes = { log_bytes: s.sizeBytes, log_max_bytes: s.maxBytes };
    if (this.eventLog.diskFull) return { ready: false, detail: `disk full: ${this.c.data_dir}`, ...sizes };
    return { ready: h.ok && !s.full, detail: h.error ?? (s.full ? 'event log is full (backpressure)' : 'writable'), ...sizes };
  }

  adminRoutes() {
    return [eventsRouter({ store: this.store, influx: this.influx, measurement: this.c.influx_measurement, log: this.log })];
  }
}
