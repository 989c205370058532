import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How long, and how much of the rest of a body, a closing connection reads and throws away. */
const LINGER_MS = 1000;
const LINGER_BYTES = 1024 * 1024;

/**
 * Makes an answer sent before the request's body has arrived (401, 404, 413, 415...) close the
 * connection. Kept alive, Node would read and throw away the rest of the body, however long, to
 * reach the next request; closed, it reads at most LINGER_BYTES more once the answer is out.
 */
export function closeIfBodyUnread(req: IncomingMessage, res: ServerResponse): void {
  if (req.headers['transfer-encoding'] === undefined && !(Number(req.headers['content-length'] ?? 0) > 0)) return;
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    if (!req.complete) {
      this.setHeader('Connection', 'close');
      lingerOnClose(req);
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof res.writeHead;
}

/**
 * Closing a socket while its peer is still sending makes the kernel answer with a reset, and a
 * device busy writing its body then fails with EPIPE before it has read the answer we sent
 * (between two processes on loopback a quarter of such 413s and 401s were lost). So: read on and
 * throw away up to LINGER_BYTES (a device that writes its whole body before reading the answer
 * gets to read it), then stop reading (a device still writing blocks, and reads the answer while
 * it waits); end our side after the answer and close once the body has ended or after LINGER_MS.
 * Reading here also keeps Node from dumping the body, which reads on without any limit.
 */
function lingerOnClose(req: IncomingMessage): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  if (typeof socket.destroySoon !== 'function' || (req as { lingering?: boolean }).lingering) return;
  (req as { lingering?: boolean }).lingering = true;
  let read = 0;
  req.on('data', (c: Buffer) => {
    read += c.length;
    if (read > LINGER_BYTES) req.pause();
  });
  req.resume();
  const destroySoon = socket.destroySoon;
  socket.destroySoon = function (this: Socket) {
    // The body has ended meanwhile: nothing is left unread, close as Node does.
    if (req.complete) return destroySoon.call(this);
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
    req.once('end', () => this.destroy());
  };
}
