import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../core/logger.js';

const REQ_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Request ids (X-Request-Id kept when sane) and one log line per request, in the device fast
 * path's shape (reqId, req, res, responseTime): 5xx at error, 4xx at warn, the rest at debug.
 * Only what is needed to trace a request; headers (and their credentials) are never logged.
 */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && REQ_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    const line = (status: number) => ({ reqId: id, req: { method: req.method, url: (req.originalUrl ?? req.url).split('?')[0], remote: req.socket.remoteAddress }, res: { status }, responseTime: Math.round(performance.now() - started) });
    let finished = false;
    res.once('finish', () => {
      finished = true;
      const status = res.statusCode;
      if (status >= 500) log.error(line(status), 'request failed');
      else if (status >= 400) log.warn(line(status), 'request completed');
      else if (log.isLevelEnabled('debug')) log.debug(line(status), 'request completed');
    });
    res.once('close', () => {
      if (!finished) log.warn(line(res.statusCode), 'request aborted');
    });
    next();
  };
}
