// Raw-socket clients for the listener limit tests: idle connections, half-sent headers and
// request bodies that keep coming, all over loopback with a chosen source address.
import { connect, type Socket } from 'node:net';

/** Resolves once the socket is connected; rejects if it is refused or reset first. */
export function openSocket(port: number, localAddress = '127.0.0.1', host = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host, localAddress });
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Resolves with the milliseconds until the peer closed the socket (or null after `maxMs`). */
export function closedWithin(s: Socket, maxMs: number): Promise<number | null> {
  const started = Date.now();
  return new Promise((resolve) => {
    if (s.destroyed || s.readableEnded) return resolve(0);
    const t = setTimeout(() => resolve(null), maxMs);
    const done = () => {
      clearTimeout(t);
      resolve(Date.now() - started);
    };
    s.once('close', done);
    s.once('end', done);
    s.resume();
  });
}

export interface StreamedReply {
  status: number;
  headers: string;
  body: { ok?: boolean; error?: string };
  /** Body bytes the client had handed to its socket when the answer arrived. */
  sentBeforeReply: number;
  /** The server closed the connection within `closeWaitMs` of answering (so it reads no more of the body). */
  closedByServer: boolean;
}

/**
 * POSTs a body that never ends on its own, over a raw socket: writes up to `maxBytes` (chunked, or
 * after a declared Content-Length of `declared`), waits for the answer without ever finishing the
 * request or closing its side, then watches whether the server closes the connection. A server
 * that reads bodies to their end before refusing them never answers; `waitMs` then fails the test.
 */
export function postEndless(port: number, path: string, headers: Record<string, string>, o: { maxBytes: number; declared?: number; waitMs: number; closeWaitMs?: number }): Promise<StreamedReply> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1' });
    let sent = 0;
    let reply: Omit<StreamedReply, 'closedByServer'> | undefined;
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer within ${o.waitMs} ms after sending ${sent} body bytes`));
    }, o.waitMs);
    let lastError = '';
    const closed = () => {
      clearTimeout(timer);
      if (!reply) return reject(new Error(`connection closed without an answer after ${sent} body bytes${lastError}`));
      const r = reply;
      reply = undefined;
      clearTimeout(closeWait);
      resolve({ ...r, closedByServer: true });
    };
    let closeWait: NodeJS.Timeout | undefined;
    s.on('data', (c: Buffer) => {
      if (reply) return;
      received = Buffer.concat([received, c]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = received.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? NaN);
      if (received.length < end + 4 + length) return;
      clearTimeout(timer);
      const body = JSON.parse(received.subarray(end + 4, end + 4 + length).toString('utf8')) as StreamedReply['body'];
      reply = { status: Number(head.split(' ')[1]), headers: head, body, sentBeforeReply: sent };
      closeWait = setTimeout(() => {
        const r = reply!;
        reply = undefined;
        s.destroy();
        resolve({ ...r, closedByServer: false });
      }, o.closeWaitMs ?? 3000);
    });
    s.on('end', closed);
    s.on('close', closed);
    // Writing into a connection the server closed after answering is expected; 'close' follows.
    s.on('error', (e: NodeJS.ErrnoException) => (lastError = ` (${e.code ?? e.message})`));
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    const framing = o.declared !== undefined ? `Content-Length: ${o.declared}\r\n` : 'Transfer-Encoding: chunked\r\n';
    s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}${framing}\r\n`);
    const data = Buffer.alloc(64 * 1024, 'a');
    const chunk = o.declared !== undefined ? data : Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from('\r\n')]);
    const pump = () => {
      while (!reply && !s.destroyed && sent < o.maxBytes) {
        sent += data.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
    };
    s.once('connect', pump);
  });
}
