import { BackpressureError } from './event-log.js';
import { errorResult, type EndpointResult } from '../http/endpoint.js';
import type { Logger } from '../core/logger.js';

/** 503s for a full or failing log: the device should retry; nothing was stored. */
export function ingestFailure(err: unknown, log: Logger): EndpointResult {
  if (err instanceof BackpressureError) return errorResult(503, 'backlog_full', 'the gateway is buffering the maximum it may; retry later', {}, { 'Retry-After': String(err.retryAfterSec) });
  log.error({ err }, 'could not store event');
  return errorResult(503, 'storage_unavailable', 'the event could not be stored durably; retry later', {}, { 'Retry-After': '5' });
}
