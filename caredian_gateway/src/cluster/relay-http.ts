// Everything a worker does not serve itself (token requests, the proxy, docs, /ready, browser
// requests with CORS) is relayed as a stream to the owner's internal listener, with the device's
// address in a relay header. The owner applies every limit and check as on a direct connection.
import { Agent, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { hopByHopNames } from '../proxy/hop-by-hop.js';
import { PEER_HEADER, PROTO_HEADER } from './relay-protocol.js';

function endToEnd(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const hop = hopByHopNames(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !hop.has(k)) out[k] = v;
  return out;
}

export function relayTo(socketPath: string): { handle(req: IncomingMessage, res: ServerResponse): void; close(): void } {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 64 });
  return {
    handle(req, res) {
      const headers = endToEnd(req.headers);
      // A request body of unknown length is re-chunked; Connection headers the device named stay out.
      if (req.headers['transfer-encoding'] !== undefined) headers['transfer-encoding'] = 'chunked';
      if (req.headers.upgrade !== undefined) {
        res.writeHead(501, { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
        res.end(JSON.stringify({ ok: false, error: 'not_implemented', error_description: 'protocol upgrades are not served' }));
        return;
      }
      headers[PEER_HEADER] = req.socket.remoteAddress ?? '';
      headers[PROTO_HEADER] = (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
      const up = request({ socketPath, method: req.method, path: req.url, headers, agent }, (answer) => {
        const back = endToEnd(answer.headers);
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, back);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      });
      up.on('error', () => {
        if (!res.headersSent) {
          res.writeHead(502, { 'Content-Type': 'application/json; charset=utf-8', Connection: 'close' });
          res.end(JSON.stringify({ ok: false, error: 'relay_failed', error_description: 'the gateway could not serve this request; retry' }));
        } else res.destroy();
      });
      res.on('close', () => {
        if (!up.writableFinished || !res.writableFinished) up.destroy();
      });
      req.pipe(up);
    },
    close() {
      agent.destroy();
    },
  };
}
