import { existsSync, readFileSync } from 'node:fs';
import { startGateway, influxUrl, waitFor, type Harness } from '../support/harness.js';
import { influxQuery, influxWrite, storedEventIds, uniqueDb } from '../support/influx-query.js';
import { InfluxModule } from '../../src/influx/influx-module.js';

const ADMIN = { Authorization: 'Bearer test-admin-token-0123456789' };

async function postAll(h: Harness, path: string, scope: string, bodies: unknown[]): Promise<Response[]> {
  const t = await h.token(scope);
  return Promise.all(bodies.map((b) => fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${t}` }, body: JSON.stringify(b) })));
}

describe('InfluxDB writer (real InfluxDB 1.x)', () => {
  test('creates the database; 300 events of one device in one second are all stored, none overwritten', async () => {
    const db = uniqueDb('burst');
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db });
    try {
      const bodies = Array.from({ length: 300 }, (_, i) => ({ device_id: 'esp32-01', location: 'bedroom', event: i % 3 ? 'walk' : 'fall', prob: i / 300, ts: 1760000000 }));
      const rs = await postAll(h, '/events/fall', 'events:fall:ingest', bodies);
      expect(rs.every((r) => r.status === 200)).toBe(true);
      const acked = new Set(await Promise.all(rs.map(async (r) => ((await r.json()) as { event_id: string }).event_id)));
      const stored = await waitFor(async () => {
        const m = await storedEventIds(db).catch(() => new Map<string, number>());
        return m.size >= 300 ? m : undefined;
      }, 20_000, 'events in InfluxDB');
      expect(new Set(stored.keys())).toEqual(acked);
      expect([...stored.values()].every((c) => c === 1)).toBe(true);
      const series = await influxQuery(db, 'SELECT * FROM "fall_events" LIMIT 1');
      expect(series[0]!.columns.sort()).toEqual(['decided', 'device_id', 'event', 'event_id', 'location', 'prob', 'source', 'time'].sort());
      const times = (await influxQuery(db, 'SELECT "prob" FROM "fall_events"'))[0]!.values.map((v) => BigInt(v[0] as number));
      // All in the event's millisecond (InfluxDB's JSON numbers are only approximately ns here;
      // that no point overwrote another is shown by the 300 distinct event ids above).
      expect(times.every((t) => t >= 1760000000n * 1_000_000_000n - 1000n && t < 1760000000n * 1_000_000_000n + 1_001_000n)).toBe(true);
      // The admin listing now reads from InfluxDB.
      const listed = (await (await fetch(`${h.adminUrl}/api/events?device_id=esp32-01&limit=5`, { headers: ADMIN })).json()) as { source: string; events: unknown[] };
      expect(listed.source).toBe('influxdb');
      expect(listed.events).toHaveLength(5);
      // The alert steps of those falls are written after them: the writer catches up on them too.
      await waitFor(() => h.gw.module(InfluxModule)!.writer!.status().backlog === 0, 10_000, 'writer caught up');
      expect(h.gw.module(InfluxModule)!.writer!.status()).toMatchObject({ ready: true, backlog: 0 });
    } finally {
      await h.close();
    }
  });

  test('the listing from InfluxDB reads points written before `decided` existed as the policy did then: every fall alerted, nothing else', async () => {
    const db = uniqueDb('legacy');
    const ns = BigInt(Date.now() - 60_000) * 1_000_000n;
    await influxWrite(db, [
      `fall_events,device_id=old-band,location=hall,event=fall,source=sensor prob=0.9,event_id="legacy-fall" ${ns}`,
      `fall_events,device_id=old-band,location=hall,event=walk,source=sensor prob=0.1,event_id="legacy-walk" ${ns + 1000n}`,
    ].join('\n'));
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db });
    try {
      const listed = (await (await fetch(`${h.adminUrl}/api/events?device_id=old-band&limit=5`, { headers: ADMIN })).json()) as { source: string; events: { event: string; decided: boolean }[] };
      expect(listed.source).toBe('influxdb');
      expect(listed.events.map((e) => [e.event, e.decided]).sort()).toEqual([['fall', true], ['walk', false]]);
    } finally {
      await h.close();
    }
  });

  test('heartbeats go to device_status; a point InfluxDB rejects is dead-lettered and the rest still arrive', async () => {
    const db = uniqueDb('dlq');
    // A string-typed battery field in the current shard makes numeric battery values a field type conflict.
    await influxWrite(db, `device_status,device_id=old battery="full" ${Date.now() - 60_000}000000`);
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db });
    try {
      const falls = Array.from({ length: 40 }, (_, i) => ({ device_id: `d${i % 4}`, event: 'fall', prob: 0.9, event_id: `ev-${i}` }));
      const rs = await Promise.all([
        postAll(h, '/events/fall', 'events:fall:ingest', falls),
        postAll(h, '/devices/heartbeat', 'devices:write', [{ device_id: 'd1', battery: 80, rssi: -60, fw: '1.2.3', uptime_s: 99 }, { device_id: 'd2', rssi: -70 }]),
      ]);
      expect(rs.flat().every((r) => r.status === 200)).toBe(true);
      await waitFor(async () => (await storedEventIds(db)).size === 40, 20_000, 'falls stored');
      await waitFor(() => h.gw.module(InfluxModule)!.writer!.status().dead_lettered === 1, 20_000, 'a dead letter');
      const rssi = await waitFor(async () => {
        const s = await influxQuery(db, `SELECT "rssi" FROM "device_status" WHERE "device_id" = 'd2'`);
        return s.length ? s : undefined;
      }, 20_000, 'the good heartbeat');
      expect(rssi[0]!.values[0]![1]).toBe(-70);
      const dl = readFileSync(h.gw.module(InfluxModule)!.writer!.deadLetterPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string; record: { device_id: string; battery: number } });
      expect(dl).toHaveLength(1);
      expect(dl[0]!.record).toMatchObject({ device_id: 'd1', battery: 80 });
      expect(dl[0]!.reason).toMatch(/field type conflict/);
      // Later events are not blocked.
      await postAll(h, '/events/fall', 'events:fall:ingest', [{ device_id: 'd9', event: 'fall', prob: 0.5, event_id: 'after' }]);
      await waitFor(async () => (await storedEventIds(db)).has('after'), 20_000, 'event after the dead letter');
    } finally {
      await h.close();
    }
  });

  test('a missing database with INFLUX_CREATE_DB=false: /ready says so, events are still accepted', async () => {
    const db = uniqueDb('nodb');
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db, INFLUX_CREATE_DB: 'false' });
    try {
      const b = await waitFor(async () => {
        const res = await fetch(`${h.url}/ready`);
        const body = (await res.json()) as { checks: { influxdb: { detail: string } } };
        return res.status === 503 && /does not exist/.test(body.checks.influxdb.detail) ? body : undefined;
      }, 10_000, '/ready to say the database is missing');
      expect(b.checks.influxdb.detail).toBe(`database "${db}" does not exist and INFLUX_CREATE_DB is off`);
      const [p] = await postAll(h, '/events/fall', 'events:fall:ingest', [{ device_id: 'x', event: 'fall', prob: 1, event_id: 'kept' }]);
      expect(p!.status).toBe(200);
      // Once the database exists, the buffered event arrives.
      await influxWrite(db, 'bootstrap v=1 1');
      await waitFor(async () => (await storedEventIds(db)).has('kept'), 40_000, 'buffered event after database creation');
    } finally {
      await h.close();
    }
  });

  test('the saved cursor (where to resume after a restart) catches up once the writer is idle, and at stop', async () => {
    const db = uniqueDb('cursor');
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db }, { keepData: true });
    const cursorFile = `${h.config.data_dir}/eventlog/influx.cursor`;
    const saved = () => (existsSync(cursorFile) ? Number(readFileSync(cursorFile, 'utf8')) : 0);
    try {
      const burst = (n: number, from: number) => postAll(h, '/events/fall', 'events:fall:ingest', Array.from({ length: n }, (_, i) => ({ device_id: 'c1', event: 'walk', prob: 0.1, event_id: `c-${from + i}` })));
      await burst(50, 0);
      await waitFor(async () => (await storedEventIds(db)).size === 50, 20_000, 'all written');
      // Under load it is saved at most once a second; once nothing is left to write, at once.
      await waitFor(() => saved() === h.gw.store.lastCommittedSeq, 5_000, 'cursor saved when idle').catch((e) => { throw new Error(`${e.message}: saved ${saved()}, last ${h.gw.store.lastCommittedSeq}, ${JSON.stringify(h.gw.module(InfluxModule)!.writer!.status())}`); });
      await burst(30, 50);
      await waitFor(async () => (await storedEventIds(db)).size === 80, 20_000, 'all written');
    } finally {
      await h.close();
    }
    expect(saved()).toBe(h.gw.store.lastCommittedSeq);
  });

  test('log segments are released once written', async () => {
    const db = uniqueDb('release');
    const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db });
    try {
      const store = h.gw.store;
      // Force small segments so the test sees a release.
      (store as unknown as { log: { segmentBytes: number } }).log.segmentBytes = 4096;
      const bodies = Array.from({ length: 200 }, (_, i) => ({ device_id: 'r1', event: 'walk', prob: 0.1, event_id: `r-${i}` }));
      for (let i = 0; i < bodies.length; i += 20) await postAll(h, '/events/fall', 'events:fall:ingest', bodies.slice(i, i + 20));
      await waitFor(async () => (await storedEventIds(db)).size === 200, 20_000, 'all written');
      await waitFor(() => store.sizeBytes < 8192, 10_000, 'segments released');
      expect(existsSync(`${h.config.data_dir}/eventlog/state.json`)).toBe(true);
    } finally {
      await h.close();
    }
  });
});
