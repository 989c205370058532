// Against the real InfluxDB: past max_devices nothing reaches InfluxDB (no new device_id tag
// value), and points InfluxDB refuses (dead-lettered) make /ready degraded with the reason.
import { startGateway, influxUrl, waitFor, type Harness } from '../support/harness.js';
import { influxQuery, influxWrite, storedEventIds, uniqueDb } from '../support/influx-query.js';

const post = async (h: Harness, token: string, path: string, body: unknown) =>
  (await fetch(`${h.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) })).status;
const tagValues = async (db: string, measurement: string) => (await influxQuery(db, `SHOW TAG VALUES FROM "${measurement}" WITH KEY = "device_id"`)).flatMap((s) => s.values.map((v) => v[1]));

test('past max_devices a new device id never becomes an InfluxDB tag value', async () => {
  const db = uniqueDb('devlimit');
  const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db, MAX_DEVICES: '2' });
  try {
    const t = await h.token();
    expect(await post(h, t, '/events/fall', { device_id: 'room-a', event: 'walk', prob: 0.1, event_id: 'a1' })).toBe(200);
    expect(await post(h, t, '/devices/heartbeat', { device_id: 'room-b', battery: 90 })).toBe(200);
    for (let i = 0; i < 20; i++) {
      expect(await post(h, t, '/events/fall', { device_id: `flood-${i}`, event: 'fall', prob: 0.5, event_id: `f${i}` })).toBe(429);
      expect(await post(h, t, '/devices/heartbeat', { device_id: `flood-hb-${i}` })).toBe(429);
    }
    // Written in order: once this one is in InfluxDB, so is everything accepted before it.
    expect(await post(h, t, '/events/fall', { device_id: 'room-a', event: 'sit', prob: 0.1, event_id: 'last' })).toBe(200);
    await waitFor(async () => (await storedEventIds(db).catch(() => new Map())).has('last'), 20_000, 'the last event in InfluxDB');
    await waitFor(async () => (await tagValues(db, 'device_status').catch(() => [])).length > 0, 20_000, 'the heartbeat in InfluxDB');
    expect(await tagValues(db, 'fall_events')).toEqual(['room-a']);
    expect(await tagValues(db, 'device_status')).toEqual(['room-b']);
  } finally {
    await h.close();
  }
});

test('points InfluxDB refuses make /ready degraded, naming the dead-letter file and the reason', async () => {
  const db = uniqueDb('dlready');
  // A string-typed battery field makes numeric battery values a field type conflict.
  await influxWrite(db, `device_status,device_id=old battery="full" ${Date.now() - 60_000}000000`);
  const h = await startGateway({ INFLUX_URL: influxUrl(), INFLUX_DB: db });
  try {
    const t = await h.token();
    const influxWarning = async () => ((await (await fetch(`${h.url}/ready`)).json()) as { warnings: string[] }).warnings.find((w) => w.startsWith('influxdb:'));
    expect(await influxWarning()).toBeUndefined();
    expect(await post(h, t, '/devices/heartbeat', { device_id: 'd1', battery: 80 })).toBe(200);
    const w = await waitFor(influxWarning, 20_000, 'the dead-letter warning');
    expect(w).toMatch(/InfluxDB refused 1 point.*dead-letter\.ndjson.*field type conflict/);
    const r = await fetch(`${h.url}/ready`);
    expect(r.status).toBe(200);
    expect(((await r.json()) as { checks: { influxdb: { ready: boolean; dead_lettered: number } } }).checks.influxdb).toMatchObject({ ready: true, dead_lettered: 1 });
  } finally {
    await h.close();
  }
});
