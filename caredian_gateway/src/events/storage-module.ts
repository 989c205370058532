// The durable event log as a module: opened first and closed last, its readiness check, the
// embedded store's retention, and GET /api/events (from InfluxDB when configured, else the log).
import { join } from 'node:path';
import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { Timers, type GatewayModule, type ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import { EventLog } from './event-log.js';
import { EventStore } from './event-store.js';
import { eventsRouter } from './events-route.js';

const RETENTION_SWEEP_MS = 3600_000;

export class StorageModule implements GatewayModule {
  readonly name = 'storage';
  readonly store: EventStore;
  readonly dir: string;
  private readonly timers = new Timers();

  constructor(
    private readonly c: Config,
    bus: GatewayBus,
    private readonly log: Logger,
    /** Set when InfluxDB holds the events: it answers queries, and it owns retention. */
    private readonly influx?: InfluxDB,
  ) {
    this.dir = join(c.data_dir, 'eventlog');
    this.store = new EventStore(new EventLog({ dir: this.dir, maxBytes: c.event_log_max_mb * 1024 * 1024 }), bus, this.dir);
  }

  async start(): Promise<void> {
    await this.store.open();
    if (!this.influx) this.timers.every(RETENTION_SWEEP_MS, () => this.store.expireBefore(Date.now() - this.c.event_retention_days * 86400_000));
  }

  async stop(): Promise<void> {
    this.timers.clear();
    await this.store.close();
  }

  status(): ModuleStatus {
    const s = this.store;
    const h = s.healthy;
    return { ready: h.ok && !s.full, detail: h.error ?? (s.full ? 'event log is full (backpressure)' : 'writable'), log_bytes: s.sizeBytes, log_max_bytes: s.maxBytes };
  }

  adminRoutes() {
    return [eventsRouter({ store: this.store, influx: this.influx, measurement: this.c.influx_measurement, log: this.log })];
  }
}
