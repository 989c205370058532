// What the ingest core answers, whatever the transport. HTTP maps these to status codes; MQTT and
// Home Assistant inputs map them their own way.
import { BackpressureError, DiskFullError } from '../events/event-log.js';

/** The data directory is full: nothing was stored; the gateway recovers by itself when there is space. */
export const DISK_FULL: Outcome<never> = { kind: 'unavailable', error: 'storage_unavailable', description: 'the disk is full: the event could not be stored; retry later', retryAfterSec: 5 };

/** Who is speaking: the authenticated client behind a request or message. */
export interface DeviceIdentity {
  /** A configured client (cc_clients): the devices it may post for and its new-device rate are by client. */
  clientId: string;
  via: 'http' | 'mqtt' | 'home_assistant';
  /** When the request arrived (epoch ms, fractional: performance.timeOrigin + performance.now()); else when the core was called. */
  arrivedAtMs?: number;
}

export type IngestKind = 'fall' | 'heartbeat' | 'imu';

/** Told of every outcome the ingest core answers (metrics); must be cheap, it runs on every request. */
export type IngestObserver = (via: DeviceIdentity['via'], kind: IngestKind, outcome: Outcome<unknown>, arrivedAtMs: number) => void;

/** Told of each device request HTTP refuses before the ingest core (token, size, type, JSON): its kind and the error code sent. */
export type RefusalObserver = (kind: IngestKind, reason: string) => void;

export type Outcome<T> =
  | { kind: 'stored'; value: T }
  | { kind: 'duplicate'; value: T }
  /** The same event id with a different body. */
  | { kind: 'conflict'; eventId: string; reason: string }
  | { kind: 'invalid'; problems: string[] }
  /** The log is full: nothing was stored; the sender retries after `retryAfterSec`. */
  | { kind: 'backpressure'; retryAfterSec: number }
  /** Storage failing or the model unavailable: nothing was stored. */
  | { kind: 'unavailable'; error: string; description: string; retryAfterSec?: number }
  | { kind: 'forbidden'; error: string; description: string }
  /** A cap on devices (max_devices, new devices per minute): nothing was stored. */
  | { kind: 'limited'; error: string; description: string; limit: string; retryAfterSec?: number };

/** The alert a stored fall opened (or joined), as the device is told: pending means it can still cancel. */
export interface AlertBrief {
  id: string;
  state: string;
  /** While pending: the wearer's "I'm OK" must come before this (ISO 8601). */
  cancel_before?: string;
}

export interface FallStored {
  event_id: string;
  alert?: AlertBrief;
}

export interface ImuProcessed {
  accepted: number;
  falls: { id: string; ts: number; prob: number; source: 'model' | 'sensor' | 'both'; alert?: AlertBrief }[];
  /** The alert of the chunk's last decided fall. */
  alert?: AlertBrief;
}

/** A failure to store, as an outcome: backpressure, or storage unavailable. */
export function storeFailure(err: unknown): Outcome<never> {
  if (err instanceof BackpressureError) return { kind: 'backpressure', retryAfterSec: err.retryAfterSec };
  if (err instanceof DiskFullError) return DISK_FULL;
  return { kind: 'unavailable', error: 'storage_unavailable', description: 'the event could not be stored durably; retry later', retryAfterSec: 5 };
}
