// node:http requests from a chosen loopback source address (127.0.0.2, 127.0.0.3, ...), so tests
// can play several devices and attackers on one machine.
import { request, type IncomingHttpHeaders } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export function send(url: string, path: string, o: { from?: string; method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const body = o.body ?? '';
    const req = request(
      { host: u.hostname, port: u.port, path, method: o.method ?? 'POST', localAddress: o.from, headers: { 'Content-Length': String(Buffer.byteLength(body)), ...o.headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** A client-credentials token request with HTTP Basic authentication. */
export function tokenFrom(url: string, from: string, id: string, secret: string): Promise<Answer> {
  return send(url, '/auth/cc/token', { from, body: 'grant_type=client_credentials', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: basic(id, secret) } });
}

/** How many answers had each status, e.g. {200: 40}. */
export function statusCounts(answers: Answer[]): Record<number, number> {
  const n: Record<number, number> = {};
  for (const a of answers) n[a.status] = (n[a.status] ?? 0) + 1;
  return n;
}
