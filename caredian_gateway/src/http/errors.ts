import type { Response, Request, NextFunction, ErrorRequestHandler } from 'express';
import type { z } from 'zod';
import type { Logger } from '../core/logger.js';
import { zodProblems } from '../core/zod-problems.js';
import { isDiskFull } from '../core/files.js';
import { BODY_TOO_LARGE } from './read-body.js';

/** The device and admin APIs' error shape: {"ok":false,"error":code,"error_description":text}. */
export function sendError(res: Response, status: number, error: string, description: string, extra: Record<string, unknown> = {}): void {
  res.status(status).json({ ok: false, error, error_description: description, ...extra });
}

/** 400 with one problem per line (`field: message`), without echoing values. */
export function sendValidationError(res: Response, err: z.ZodError): void {
  const problems = zodProblems(err);
  sendError(res, 400, 'invalid_request', problems.join('; '), { problems });
}

/** Turns body-parser and other thrown errors into JSON instead of HTML stack traces. */
export function jsonErrorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; statusCode?: number; expose?: boolean; message?: string };
    const status = e.status ?? e.statusCode ?? 500;
    if (res.headersSent) return;
    // An admin write (key rotation, API keys, an acknowledgement) on a full disk: try again later.
    if (isDiskFull(err)) {
      res.setHeader('Retry-After', '5');
      return sendError(res, 503, 'disk_full', 'the data directory is full; nothing was changed; retry later');
    }
    if (e.type === 'entity.too.large') return sendError(res, BODY_TOO_LARGE.status, BODY_TOO_LARGE.error, BODY_TOO_LARGE.description);
    if (e.type === 'entity.parse.failed') return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return sendError(res, 415, 'unsupported_media_type', 'unsupported body encoding');
    if (status >= 400 && status < 500) return sendError(res, status, 'invalid_request', e.expose && e.message ? e.message : 'bad request');
    log.error({ err, url: req.originalUrl }, 'unhandled error');
    sendError(res, 500, 'server_error', 'internal error');
  };
}

export function notFound(_req: Request, res: Response): void {
  sendError(res, 404, 'not_found', 'no such route');
}
