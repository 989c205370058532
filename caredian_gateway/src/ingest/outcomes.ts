// What the ingest core answers, whatever the transport. HTTP maps these to status codes; MQTT and
// Home Assistant inputs map them their own way.
import { BackpressureError } from '../events/event-log.js';

/** Who is speaking: the authenticated client behind a request or message. */
export interface DeviceIdentity {
  clientId: string;
  via: 'http' | 'mqtt' | 'home_assistant';
}

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
  | { kind: 'forbidden'; error: string; description: string };

export interface FallStored {
  event_id: string;
}

export interface ImuProcessed {
  accepted: number;
  falls: { id: string; ts: number; prob: number; source: 'model' | 'sensor' | 'both' }[];
}

/** A failure to store, as an outcome: backpressure, or storage unavailable. */
export function storeFailure(err: unknown): Outcome<never> {
  if (err instanceof BackpressureError) return { kind: 'backpressure', retryAfterSec: err.retryAfterSec };
  return { kind: 'unavailable', error: 'storage_unavailable', description: 'the event could not be stored durably; retry later', retryAfterSec: 5 };
}
