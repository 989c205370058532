// The reference of `npm run bench`: node:http answering the same POST with the gateway's headers
// and doing nothing else (no token check, no validation, no log, no disk). Its latency under the
// same wrk load is the floor any Node server on this machine starts from.
import http from 'node:http';

const HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
let n = 0;
http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let status = 200;
      try {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        status = 400;
      }
      const payload = JSON.stringify(status === 200 ? { status: 'ok', written: 1, event_id: `floor-${++n}` } : { error: 'invalid_request' });
      res.writeHead(status, { ...HEADERS, 'Content-Length': Buffer.byteLength(payload) });
      res.end(payload);
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
