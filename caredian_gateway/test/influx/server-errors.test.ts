// InfluxDB answering 5xx (a proxy in front of it failing) is an outage like any other: keep
// accepting, retry with backoff, deliver everything once when it answers again.
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { influxUrl, startGateway, waitFor } from '../support/harness.js';
import { storedEventIds, uniqueDb } from '../support/influx-query.js';
import { InfluxModule } from '../../src/influx/influx-module.js';

test('writes answered 503 are retried until InfluxDB answers, then stored once', async () => {
  const target = new URL(influxUrl());
  let failWrites = true;
  let refused = 0;
  const proxy = createServer((req, res) => {
    if (failWrites && req.url?.startsWith('/write')) {
      refused++;
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/json' }).end('{"error":"overloaded"}');
      return;
    }
    const up = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const db = uniqueDb('fivexx');
  const h = await startGateway({ INFLUX_URL: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, INFLUX_DB: db });
  try {
    const t = await h.token('events:fall:ingest');
    const ids = Array.from({ length: 50 }, (_, i) => `x-${i}`);
    const rs = await Promise.all(ids.map((event_id) => fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify({ device_id: 'p', event: 'fall', prob: 0.6, event_id }) })));
    expect(rs.every((r) => r.status === 200)).toBe(true);
    await waitFor(() => refused >= 3, 20_000, 'several refused writes');
    expect(h.gw.module(InfluxModule)!.writer!.status()).toMatchObject({ ready: false, backlog: 50 });
    expect((await fetch(`${h.url}/ready`)).status).toBe(503);
    failWrites = false;
    await waitFor(() => h.gw.module(InfluxModule)!.writer!.status().backlog === 0, 40_000, 'delivery after the errors stop');
    const stored = await storedEventIds(db);
    expect([...stored.keys()].sort()).toEqual([...ids].sort());
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(h.gw.module(InfluxModule)!.writer!.status().dead_lettered).toBe(0);
  } finally {
    await h.close();
    proxy.close();
  }
}, 60_000);
