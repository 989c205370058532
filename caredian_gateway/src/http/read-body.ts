import type { IncomingMessage } from 'node:http';

/** The one answer for a body past its route's limit, on the fast path and through Express alike. */
export const BODY_TOO_LARGE = { status: 413, error: 'payload_too_large', description: 'request body is larger than this route accepts' } as const;

/**
 * The raw request body, or undefined as soon as it exceeds `limit` bytes: reading stops there
 * (the stream is paused, the rest left unread), so the caller can answer at once and close.
 */
export function readBodyLimited(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.pause();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}
