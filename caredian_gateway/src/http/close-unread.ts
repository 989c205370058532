import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Makes an answer sent before the request's body has arrived (401, 404, 415...) close the
 * connection. Kept alive, Node would read and throw away the rest of the body, however long, to
 * reach the next request; closed, it reads no further once the answer is out.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers['transfer-encoding'] === undefined && !(Number(req.headers['content-length'] ?? 0) > 0)) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete) this.setHeader('Connection', 'close');
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}
