// The proxy's upstream for the abuse bench: serves everything, and files each request's raw path
// under "inside" (still under /open once decoded and resolved the way a lenient server would: up
// to three rounds of percent-decoding, backslashes as slashes, ;params dropped, dot segments
// resolved) or "escaped" (anywhere else, such as /secret).
import { createServer } from 'node:http';
import { posix } from 'node:path';

export function resolveLeniently(raw) {
  let p = raw.split('?')[0];
  for (let i = 0; i < 3; i++) {
    const next = p.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
    if (next === p) break;
    p = next;
  }
  // Overlong UTF-8 dots (%c0%ae), decoded byte by byte above, as some decoders read them.
  p = p.replace(/\xc0\xae/g, '.').replace(/\\/g, '/');
  p = p.split('/').map((s) => s.split(';')[0]).join('/');
  return posix.normalize(p);
}

export async function startUpstream() {
  const seen = { inside: 0, escaped: [], total: 0 };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.total++;
      const resolved = resolveLeniently(req.url ?? '');
      if (resolved === '/open' || resolved.startsWith('/open/')) seen.inside++;
      else seen.escaped.push(req.url);
      const body = resolved.startsWith('/secret') ? '{"secret":"the upstream\'s private data"}' : '{"ok":true}';
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, seen, close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}
