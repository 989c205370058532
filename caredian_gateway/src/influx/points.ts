// Maps log records to InfluxDB points. Tag values are restricted at validation (no backslash,
// newline or control characters), so the `influx` package's escaping is sufficient.
import type { IPoint } from 'influx';
import { isDecided, type StoredEvent } from '../domain/records.js';
import { API_USAGE_MEASUREMENT, DEVICE_STATUS_MEASUREMENT, FALL_ALERTS_MEASUREMENT } from '../domain/measurements.js';

export { API_USAGE_MEASUREMENT, DEVICE_STATUS_MEASUREMENT };


export function toPoint(r: StoredEvent, fallMeasurement: string): IPoint {
  switch (r.kind) {
    case 'fall':
      return {
        measurement: fallMeasurement,
        tags: { device_id: r.device_id, location: r.location, event: r.event, source: r.source },
        fields: { prob: r.prob, event_id: r.event_id, decided: isDecided(r) },
        timestamp: r.ts_ns,
      };
    case 'heartbeat': {
      const fields: Record<string, number | string | boolean> = { heartbeat: true };
      if (r.battery !== undefined) fields.battery = r.battery;
      if (r.rssi !== undefined) fields.rssi = r.rssi;
      if (r.fw !== undefined) fields.fw = r.fw;
      if (r.uptime_s !== undefined) fields.uptime_s = r.uptime_s;
      return { measurement: DEVICE_STATUS_MEASUREMENT, tags: { device_id: r.device_id }, fields, timestamp: r.ts_ns };
    }
    case 'alert':
      return {
        measurement: FALL_ALERTS_MEASUREMENT,
        tags: { device_id: r.device_id, action: r.action },
        fields: { alert_id: r.alert_id, by: r.by ?? '', step: r.step ?? 0 },
        timestamp: r.ts_ns,
      };
    case 'usage':
      return {
        measurement: API_USAGE_MEASUREMENT,
        tags: { key: r.key, upstream: r.upstream, method: r.method, status: String(r.status) },
        fields: { path: r.path, request_bytes: r.request_bytes, response_bytes: r.response_bytes, duration_ms: r.duration_ms, error: r.error },
        timestamp: r.ts_ns,
      };
  }
}
