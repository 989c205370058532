// A real upstream for the proxy hardening tests: records every request it receives and answers
// 200 with the request-target it saw, plus whatever response headers a test sets.
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export class RecordingUpstream {
  private server!: Server;
  received: Seen[] = [];
  responseHeaders: Record<string, string> = {};
  /** Runs when a request arrives, before it is answered. */
  onRequest?: (s: Seen) => void;

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
      this.received.push(seen);
      this.onRequest?.(seen);
      res.writeHead(200, { 'Content-Type': 'application/json', ...this.responseHeaders });
      res.end(JSON.stringify({ url: req.url }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/**
 * An HTTP request with the request-target exactly as given. fetch() would resolve `.%2e`, `%2e.`
 * and backslashes itself before sending, so an attacker's raw paths need node:http.
 */
export function rawRequest(base: string, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}/`, { method: o.method ?? 'GET', path, headers: o.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}
