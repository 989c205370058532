import express, { type RequestHandler } from 'express';
import { sendError } from './errors.js';

/** Requires a JSON content type, then parses with a size limit (errors become JSON via jsonErrorHandler). */
export function jsonBody(limit: string): RequestHandler[] {
  return [
    (req, res, next) => {
      if (!req.is('application/json')) return sendError(res, 415, 'unsupported_media_type', 'send Content-Type: application/json');
      next();
    },
    express.json({ limit, strict: true }),
  ];
}
