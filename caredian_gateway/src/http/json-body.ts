import express, { type RequestHandler } from 'express';
import { sendError } from './errors.js';

/** Requires a JSON content type, then parses with a size limit (errors become JSON via jsonErrorHandler). */
export function jsonBody(limit: string | number): RequestHandler[] {
  return [
    (req, res, next) => {
      if (!req.is('application/json')) return sendError(res, 415, 'unsupported_media_type', 'send Content-Type: application/json');
      // body-parser would turn an empty body into {}; the fast path calls it invalid JSON, and so do we.
      if (req.headers['transfer-encoding'] === undefined && Number(req.headers['content-length'] ?? 0) === 0) return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
      next();
    },
    express.json({ limit, strict: true }),
  ];
}
