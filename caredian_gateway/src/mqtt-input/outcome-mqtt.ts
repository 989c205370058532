// The ingest core's outcomes as MQTT answers. A message is acknowledged to the broker once it is
// stored (or was already); a message that can never be stored is acknowledged too, and answered
// on the device's error topic; one that could be stored later (the log full, storage failing) is
// held, unacknowledged, and tried again, so the broker keeps what follows it.
import type { Outcome } from '../ingest/outcomes.js';

export interface MqttError {
  error: string;
  error_description: string;
  problems?: string[];
}

export type MqttAnswer = { kind: 'ok'; duplicate: boolean } | { kind: 'reject'; reason: MqttError } | { kind: 'retry'; afterSec: number; why: string };

export function toMqtt<T>(o: Outcome<T>): MqttAnswer {
  switch (o.kind) {
    case 'stored':
      return { kind: 'ok', duplicate: false };
    case 'duplicate':
      return { kind: 'ok', duplicate: true };
    case 'invalid':
      return { kind: 'reject', reason: { error: 'invalid_request', error_description: o.problems.join('; '), problems: o.problems } };
    case 'conflict':
      return { kind: 'reject', reason: { error: 'event_id_conflict', error_description: o.reason } };
    case 'forbidden':
      return { kind: 'reject', reason: { error: o.error, error_description: o.description } };
    case 'limited':
      return o.retryAfterSec ? { kind: 'retry', afterSec: o.retryAfterSec, why: o.description } : { kind: 'reject', reason: { error: o.error, error_description: o.description } };
    case 'backpressure':
      return { kind: 'retry', afterSec: o.retryAfterSec, why: 'the event log is full (waiting for InfluxDB to take events)' };
    case 'unavailable':
      // The model failing or turned off does not heal by holding the stream; storage does.
      if (o.error === 'storage_unavailable') return { kind: 'retry', afterSec: o.retryAfterSec ?? 5, why: o.description };
      return { kind: 'reject', reason: { error: o.error, error_description: o.description } };
  }
}
