// A stand-in AI upstream: a small text analyser that also reports exactly what it received.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const BAD_WORDS = ['바보', 'idiot', 'stupid'];

export class TextAnalyser {
  server!: Server;
  received: Received[] = [];
  /** Resolved by the test to let a streaming response continue. */
  release?: () => void;

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async start(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      this.received.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const path = req.url!.split('?')[0]!;
      if (path.endsWith('/slow')) {
        setTimeout(() => res.end('{"late":true}'), 3000).unref();
        return;
      }
      if (path.endsWith('/stream')) {
        // 8 MiB in 64 KiB chunks; the second half only after the test saw the first bytes arrive.
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 97);
        for (let i = 0; i < 64; i++) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        await new Promise<void>((r) => (this.release = r));
        for (let i = 0; i < 64; i++) if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
        res.end();
        return;
      }
      let text = '';
      try {
        text = String((JSON.parse(body.toString('utf8')) as { text?: unknown }).text ?? '');
      } catch {
        /* not JSON: analyse nothing */
      }
      const hits = BAD_WORDS.filter((w) => text.includes(w));
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': 'analyser', Connection: 'keep-alive' });
      res.end(JSON.stringify({ profanity: hits.length > 0, words: hits, received_bytes: body.length, sha256: createHash('sha256').update(body).digest('hex'), path: req.url }));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
  }

  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
