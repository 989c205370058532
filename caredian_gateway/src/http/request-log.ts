import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../core/logger.js';

const REQ_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** The request's id: the client's X-Request-Id when sane, else a new one. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQ_ID.test(given) ? given : randomUUID();
}

/** The line for an answered request: reqId, req (method, path, remote), res (status), responseTime in ms. */
function answerLine(id: string, req: IncomingMessage, status: number, started: number) {
  const url = (req as { originalUrl?: string }).originalUrl ?? req.url ?? '';
  return { reqId: id, req: { method: req.method, url: url.split('?')[0], remote: req.socket.remoteAddress }, res: { status }, responseTime: Math.round(performance.now() - started) };
}

/**
 * Logs an answered request: 5xx at error ("request failed"), 4xx at warn ("request completed"),
 * the rest at debug unless `okToo` is false. Only what is needed to trace a request; headers (and
 * their credentials) are never logged.
 */
export function logAnswer(log: Logger, id: string, req: IncomingMessage, status: number, started: number, okToo = true): void {
  if (status >= 500) log.error(answerLine(id, req, status, started), 'request failed');
  else if (status >= 400) log.warn(answerLine(id, req, status, started), 'request completed');
  else if (okToo && log.isLevelEnabled('debug')) log.debug(answerLine(id, req, status, started), 'request completed');
}

/** Request ids (X-Request-Id kept when sane) and one log line per request (logAnswer). */
export function requestLog(log: Logger) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const id = requestId(req);
    res.setHeader('X-Request-Id', id);
    const started = performance.now();
    let finished = false;
    res.once('finish', () => {
      finished = true;
      logAnswer(log, id, req, res.statusCode, started);
    });
    res.once('close', () => {
      if (!finished) log.warn(answerLine(id, req, res.statusCode, started), 'request aborted');
    });
    next();
  };
}
