// Metrics read when scraped, from what the modules already report: the event log's depth, the
// alerts and their outbox, the InfluxDB writer's lag, and the model's windows and decisions.
// Nothing here runs on the ingest path.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ModuleStatus } from '../core/module.js';
import type { AlertState } from '../domain/alerts.js';
import { placementCounts } from './placement-stats.js';

export interface StateSources {
  store: { readonly retained: { records: number; segments: number }; readonly sizeBytes: number; readonly maxBytes: number };
  alerts: { list(): { state: AlertState }[]; status(): ModuleStatus };
  /** The InfluxDB writer, when INFLUX_URL is set. */
  influx?: { status(): ModuleStatus; lagMs(): number };
  /** The inference module: its status, and its per-placement `stats` (read by shape: placement-stats.ts). */
  model: { status(): ModuleStatus; readonly stats?: unknown };
}

const ALERT_STATES: AlertState[] = ['pending', 'open', 'acknowledged', 'cancelled'];
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** A counter mirroring a total kept elsewhere (reset, then set to it, at each scrape). */
function mirroredCounter<T extends string>(registry: Registry, name: string, help: string, read: () => [Partial<Record<T, string>>, number][], labelNames: T[] = []): void {
  new Counter<T>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const [labels, v] of read()) this.inc(labels, v);
    },
  });
}

function gauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v !== undefined) this.set(v);
    },
  });
}

export function stateMetrics(registry: Registry, s: StateSources): void {
  const { store, alerts, influx, model } = s;
  gauge(registry, 'caredian_event_log_records', 'Records in the event log not yet released (InfluxDB) or expired (embedded store)', () => store.retained.records);
  gauge(registry, 'caredian_event_log_segments', 'Segment files of the event log on disk', () => store.retained.segments);
  gauge(registry, 'caredian_event_log_bytes', 'Bytes of the event log on disk and being written', () => store.sizeBytes);
  gauge(registry, 'caredian_event_log_max_bytes', 'The event log size at which events are refused (event_log_max_mb)', () => store.maxBytes);

  new Gauge({
    name: 'caredian_alerts',
    help: 'Alerts the gateway holds, by state (closed ones are kept for a while)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const n = new Map<string, number>(ALERT_STATES.map((st) => [st, 0]));
      for (const a of alerts.list()) n.set(a.state, (n.get(a.state) ?? 0) + 1);
      for (const [state, v] of n) this.set({ state }, v);
    },
  });
  gauge(registry, 'caredian_alert_outbox_deliveries', 'Alert notices waiting in the durable outbox to be delivered (Home Assistant, webhooks, MQTT)', () => num(alerts.status().outbox));
  gauge(registry, 'caredian_alert_deliveries_failed', 'Alert deliveries that failed for good, on alerts still held', () => {
    const f = alerts.status().failed;
    return Array.isArray(f) ? f.length : undefined;
  });

  if (influx) {
    gauge(registry, 'caredian_influx_backlog_records', 'Records committed to the event log and not yet written to InfluxDB', () => num(influx.status().backlog));
    gauge(registry, 'caredian_influx_lag_seconds', 'Age of the oldest record not yet written to InfluxDB, as of the writer\'s last read (0 when caught up)', () => influx.lagMs() / 1000);
    mirroredCounter(registry, 'caredian_influx_points_written_total', 'Points written to InfluxDB since start', () => [[{}, num(influx.status().written) ?? 0]]);
    mirroredCounter(registry, 'caredian_influx_dead_letters_total', 'Points InfluxDB refused since start, kept only in the dead-letter file', () => [[{}, num(influx.status().dead_lettered) ?? 0]]);
  }

  const modelStatus = () => model.status();
  const perPlacement = (field: 'windows' | 'decisions') => (): [{ placement: string }, number][] =>
    [...placementCounts(model.stats)].flatMap(([placement, c]) => (c[field] === undefined ? [] : [[{ placement }, c[field]!]]));
  mirroredCounter(registry, 'caredian_model_windows_total', 'Windows the fall model scored, by the wearer\'s placement', perPlacement('windows'), ['placement']);
  mirroredCounter(registry, 'caredian_model_decisions_total', 'Falls decided from motion data (the model or the threshold detector), by the wearer\'s placement', perPlacement('decisions'), ['placement']);
  mirroredCounter(registry, 'caredian_model_batches_total', 'Model runs (each scores a batch of windows)', () => {
    const n = num(modelStatus().batches);
    return n === undefined ? [] : [[{}, n]];
  });
  gauge(registry, 'caredian_model_streams', 'Devices whose motion state the model keeps (streaming IMU data)', () => num(modelStatus().devices) ?? 0);
  gauge(registry, 'caredian_model_state_bytes', 'Memory held for the devices\' motion windows (bounded by imu_state_max_mb)', () => num(modelStatus().state_bytes) ?? 0);
  mirroredCounter(registry, 'caredian_model_stream_evictions_total', 'Devices whose motion state was dropped to stay within imu_state_max_mb / max_devices', () => [[{}, num(modelStatus().evicted) ?? 0]]);
}
