import type { Response } from 'express';
import { BackpressureError } from './event-log.js';
import { sendError } from '../http/errors.js';
import type { Logger } from '../core/logger.js';

/** 503s for a full or failing log: the device should retry, nothing was stored. */
export function sendIngestFailure(res: Response, err: unknown, log: Logger): void {
  if (err instanceof BackpressureError) {
    res.setHeader('Retry-After', String(err.retryAfterSec));
    return sendError(res, 503, 'backlog_full', 'the gateway is buffering the maximum it may; retry later');
  }
  log.error({ err }, 'could not store event');
  res.setHeader('Retry-After', '5');
  sendError(res, 503, 'storage_unavailable', 'the event could not be stored durably; retry later');
}
