// The token request's body, read here rather than by body-parser: body-parser drains an oversized
// body to its end before answering (a chunked upload went on for minutes), while this stops at the
// limit so the route can answer 413 at once and close the connection.
import type { IncomingMessage } from 'node:http';

/** Bodies above this are refused; a token request is a few hundred bytes. */
export const TOKEN_BODY_LIMIT = 4096;
const MAX_FORM_PARAMETERS = 20;

export type BodyRead = { kind: 'ok'; body: Buffer } | { kind: 'too_large' } | { kind: 'aborted' };

/** Reads at most `limit` bytes; on more (announced or sent) it stops reading and says so. */
export function readLimitedBody(req: IncomingMessage, limit = TOKEN_BODY_LIMIT): Promise<BodyRead> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.resolve({ kind: 'too_large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (r: BodyRead) => {
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('aborted', onAbort).off('close', onAbort);
      resolve(r);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= limit) return void chunks.push(c);
      req.pause();
      stop({ kind: 'too_large' });
    };
    const onEnd = () => stop({ kind: 'ok', body: Buffer.concat(chunks, size) });
    const onAbort = () => stop({ kind: 'aborted' });
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('aborted', onAbort).on('close', onAbort);
  });
}

export type ParsedBody = { ok: true; fields: Record<string, unknown> } | { ok: false; description: string };

/** A form or JSON body as a plain object; repeated form parameters become arrays (then refused). */
export function parseTokenBody(kind: 'form' | 'json', body: Buffer): ParsedBody {
  const text = body.toString('utf8');
  if (kind === 'json') {
    if (text.trim() === '') return { ok: true, fields: {} };
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      return { ok: false, description: 'malformed request body' };
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return { ok: false, description: 'body must be an object' };
    return { ok: true, fields: v as Record<string, unknown> };
  }
  const params = new URLSearchParams(text);
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  let n = 0;
  for (const [k, v] of params) {
    if (++n > MAX_FORM_PARAMETERS) return { ok: false, description: 'malformed request body' };
    const prev = fields[k];
    fields[k] = prev === undefined ? v : ([] as unknown[]).concat(prev, v);
  }
  return { ok: true, fields };
}
