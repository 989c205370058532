// Records in the durable event log. Every record carries a unique nanosecond timestamp per
// device (`ts_ns`), so nothing a device sends can overwrite another of its points in InfluxDB.
import type { Placement } from '../config/schema.js';

export interface FallRecord {
  kind: 'fall';
  device_id: string;
  location: string;
  event: string;
  prob: number;
  event_id: string;
  /** sensor (reported by the device), model (decided by the gateway), both, or ha_entity (a Home Assistant entity: entity_id). */
  source: 'sensor' | 'model' | 'both' | 'ha_entity';
  /** The Home Assistant entity that reported it (source ha_entity). */
  entity_id?: string;
  /** Falls the gateway decided from motion data: which detector decided (the model or the threshold detector), for which placement. */
  detector?: 'model' | 'threshold';
  placement?: Placement;
  /**
   * Whether the decision policy (FALL_DECISION_MODE, cooldown) made this a fall that alerts. A
   * device report the policy did not confirm is still stored, with false. Absent in records
   * written before the policy existed: those alerted.
   */
  decided?: boolean;
  client_id?: string;
}

/** Whether a stored event alerts: as the policy recorded it; records from before the policy: every `fall` did. */
export function isDecided(r: { event: string; decided?: boolean | null }): boolean {
  return r.decided ?? r.event === 'fall';
}

export interface HeartbeatRecord {
  kind: 'heartbeat';
  device_id: string;
  battery?: number;
  rssi?: number;
  fw?: string;
  uptime_s?: number;
  client_id?: string;
}

/** One request through the AI proxy. `device_id` is `apikey:<name>` (every record names a source). */
export interface UsageRecord {
  kind: 'usage';
  device_id: string;
  key: string;
  upstream: string;
  method: string;
  path: string;
  status: number;
  request_bytes: number;
  response_bytes: number;
  duration_ms: number;
  /** 1 when the request failed (status >= 400 or the response was cut short), else 0. */
  error: 0 | 1;
}

/** A step in a fall alert's life: acknowledged by someone, or escalated to the next tier. */
export interface AlertRecord {
  kind: 'alert';
  device_id: string;
  alert_id: string;
  action: 'acknowledged' | 'escalated' | 'pending' | 'alerted' | 'cancelled' | 'not_moving' | 'moving_again';
  by?: string;
  step?: number;
}

export type RecordBody = FallRecord | HeartbeatRecord | UsageRecord | AlertRecord;

/** What the caller hands to the log: the body plus the time the event happened (epoch seconds). */
export type NewRecord = RecordBody & { ts: number };

export type StoredEvent = RecordBody & {
  seq: number;
  /** Event time, epoch nanoseconds as a decimal string (unique per device). */
  ts_ns: string;
  /** When the gateway received it, epoch milliseconds. */
  received_ms: number;
};
