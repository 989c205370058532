// InfluxDB 1.x as a sink of the event log: the writer when INFLUX_URL is set, and its readiness
// check either way (not configured: events stay in the embedded log).
import type { InfluxDB } from 'influx';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { EventStore } from '../events/event-store.js';
import { InfluxWriter } from './writer.js';

export class InfluxModule implements GatewayModule {
  readonly name = 'influxdb';
  readonly writer?: InfluxWriter;

  constructor(c: Config, store: EventStore, eventLogDir: string, log: Logger, client?: InfluxDB) {
    if (client) this.writer = new InfluxWriter(client, store, log.child({ module: 'influx' }), { database: c.influx_db, measurement: c.influx_measurement, createDatabase: c.influx_create_db, dir: eventLogDir });
  }

  async start(): Promise<void> {
    await this.writer?.start();
  }

  async stop(): Promise<void> {
    await this.writer?.stop();
  }

  status(): ModuleStatus {
    return this.writer ? this.writer.status() : { ready: true, detail: 'not configured: events are kept in the embedded event log' };
  }
}
