// Caps on open connections: in total (Node's maxConnections) and per source address, so one
// client holding idle sockets cannot take every slot. Refused sockets are closed at once.
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { Logger } from '../core/logger.js';

export interface ConnectionCaps {
  /** Open connections on this listener at most. */
  maxConnections: number;
  /** Open connections from one source address at most; 0 turns the per-address cap off. */
  maxConnectionsPerAddress: number;
}

const WARN_EVERY_MS = 60_000;

export function capConnections(server: Server, caps: ConnectionCaps, log: Logger, listener: string): void {
  const warn = throttledWarning(log, listener);
  server.maxConnections = caps.maxConnections;
  server.on('drop', (d?: { remoteAddress?: string }) => warn('max_connections', d?.remoteAddress));
  if (caps.maxConnectionsPerAddress <= 0) return;

  const open = new Map<string, number>();
  // Before the HTTP/TLS listener sets the socket up: a refused socket never gets a parser.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? '';
    const n = open.get(address) ?? 0;
    if (n >= caps.maxConnectionsPerAddress) {
      socket.destroy();
      warn('max_connections_per_address', address);
      return;
    }
    open.set(address, n + 1);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
  });
}

/** One warning a minute per listener at most, with how many connections were refused meanwhile. */
function throttledWarning(log: Logger, listener: string): (limit: string, address: string | undefined) => void {
  let last = 0;
  let refused = 0;
  return (limit, address) => {
    refused++;
    const now = Date.now();
    if (now - last < WARN_EVERY_MS) return;
    log.warn({ listener, limit, remote: address, refused }, 'connections refused: connection limit reached');
    last = now;
    refused = 0;
  };
}
