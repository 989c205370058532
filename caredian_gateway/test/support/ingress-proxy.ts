// A stand-in for the Supervisor's ingress proxy: serves the admin listener under
// /api/hassio_ingress/<token>/ and adds the headers the Supervisor adds.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const INGRESS_PREFIX = '/api/hassio_ingress/Zm9vYmFyMTIz';

export async function startIngressProxy(target: string, extraHeaders: Record<string, string>): Promise<{ url: string; server: Server }> {
  const t = new URL(target);
  const server = createServer((req, res) => {
    if (!req.url?.startsWith(`${INGRESS_PREFIX}/`)) {
      res.writeHead(404).end();
      return;
    }
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url.slice(INGRESS_PREFIX.length), headers: { ...req.headers, host: t.host, 'x-ingress-path': INGRESS_PREFIX, 'x-remote-user-name': 'caregiver', ...extraHeaders } },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${INGRESS_PREFIX}/`, server };
}
