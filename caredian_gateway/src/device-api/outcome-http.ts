// The ingest core's outcomes as HTTP answers (the seed's bodies for success).
import type { Outcome } from '../ingest/outcomes.js';
import { errorResult, type EndpointResult } from './endpoint.js';

export function toHttp<T>(o: Outcome<T>, ok: (value: T, duplicate: boolean) => unknown): EndpointResult {
  switch (o.kind) {
    case 'stored':
      return { status: 200, body: ok(o.value, false) };
    case 'duplicate':
      return { status: 200, body: ok(o.value, true) };
    case 'invalid':
      return errorResult(400, 'invalid_request', o.problems.join('; '), { problems: o.problems });
    case 'conflict':
      return errorResult(409, 'event_id_conflict', o.reason, { event_id: o.eventId });
    case 'forbidden':
      return errorResult(403, o.error, o.description);
    case 'limited':
      return errorResult(429, o.error, o.description, { limit: o.limit }, o.retryAfterSec ? { 'Retry-After': String(o.retryAfterSec) } : undefined);
    case 'backpressure':
      return errorResult(503, 'backlog_full', 'the gateway is buffering the maximum it may; retry later', {}, { 'Retry-After': String(o.retryAfterSec) });
    case 'unavailable':
      return errorResult(503, o.error, o.description, {}, o.retryAfterSec ? { 'Retry-After': String(o.retryAfterSec) } : undefined);
  }
}
