import type { RequestHandler, Response } from 'express';
import { sendError } from './errors.js';
import { BODY_TOO_LARGE, readBodyLimited } from './read-body.js';

const UNITS: Record<string, number> = { b: 1, kb: 1024, mb: 1024 * 1024 };
const CHARSET = /;\s*charset=("?)([^";\s]*)\1/i;
// As body-parser's strict mode: only objects and arrays.
const OBJECT_OR_ARRAY = /^[\x20\x09\x0a\x0d]*[[{]/;

/**
 * Requires a JSON content type, reads at most `limit` bytes and parses them. Past the limit (declared
 * or while streaming) it answers 413 at once, reads no further and closes the connection: Express's
 * body-parser would read the rest of the body, however long, before answering.
 */
export function jsonBody(limit: string | number): RequestHandler[] {
  const max = toBytes(limit);
  return [
    (req, res, next) => {
      if (!req.is('application/json')) return sendError(res, 415, 'unsupported_media_type', 'send Content-Type: application/json');
      const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[2]?.toLowerCase();
      if (charset !== undefined && charset !== 'utf-8') return sendError(res, 415, 'unsupported_media_type', 'send the body as UTF-8');
      const encoding = req.headers['content-encoding']?.toLowerCase();
      if (encoding !== undefined && encoding !== 'identity') return sendError(res, 415, 'unsupported_media_type', 'send the body without Content-Encoding');
      const declared = Number(req.headers['content-length'] ?? 0);
      // An empty body is invalid JSON here as on the fast path (body-parser made it {}).
      if (req.headers['transfer-encoding'] === undefined && declared === 0) return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
      if (declared > max) return tooLarge(res);
      readBodyLimited(req, max).then(
        (raw) => {
          if (raw === undefined) return tooLarge(res);
          const text = raw.toString('utf8');
          let body: unknown;
          try {
            if (!OBJECT_OR_ARRAY.test(text)) throw new SyntaxError('not an object or array');
            body = JSON.parse(text);
          } catch {
            return sendError(res, 400, 'invalid_request', 'request body is not valid JSON');
          }
          req.body = body;
          next();
        },
        // The client went away (or Node timed the request out): nobody to answer.
        () => res.destroy(),
      );
    },
  ];
}

function tooLarge(res: Response): void {
  res.set('Connection', 'close');
  sendError(res, BODY_TOO_LARGE.status, BODY_TOO_LARGE.error, BODY_TOO_LARGE.description);
}

function toBytes(limit: string | number): number {
  if (typeof limit === 'number') return limit;
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(limit.trim());
  if (!m) throw new Error(`body limit ${limit}: use a number of bytes or "<n>kb"/"<n>mb"`);
  return Number(m[1]) * UNITS[(m[2] ?? 'b').toLowerCase()]!;
}
