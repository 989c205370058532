// On the owner's internal listener every request comes from a worker over a Unix socket: the
// device's own address and scheme arrive in relay headers and replace the socket's, so the token
// endpoint's per-address limits, the proxy's X-Forwarded-For and the logs see the device.
import type { IncomingMessage } from 'node:http';

/** Headers a worker sets on requests it relays to the owner's internal listener (never trusted from devices). */
export const PEER_HEADER = 'x-caredian-relay-peer';
export const PROTO_HEADER = 'x-caredian-relay-proto';

const relayedSockets = new WeakSet<object>();

/** Whether the request came from a device-port worker (its connection is the worker's, not the device's). */
export const isRelayed = (req: IncomingMessage): boolean => relayedSockets.has(req.socket);

export function adoptRelayedPeer(req: IncomingMessage): void {
  relayedSockets.add(req.socket);
  const peer = req.headers[PEER_HEADER];
  const proto = req.headers[PROTO_HEADER];
  delete req.headers[PEER_HEADER];
  delete req.headers[PROTO_HEADER];
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!.toLowerCase();
    if (name === PEER_HEADER || name === PROTO_HEADER) raw.splice(i, 2);
  }
  // Requests on one relayed connection follow each other, so the socket's address is the current one's.
  Object.defineProperty(req.socket, 'remoteAddress', { value: typeof peer === 'string' ? peer : undefined, configurable: true });
  Object.defineProperty(req.socket, 'encrypted', { value: proto === 'https' ? true : undefined, configurable: true });
}
