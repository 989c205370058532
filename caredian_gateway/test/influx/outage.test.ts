// InfluxDB stopped under load: the gateway keeps accepting, then delivers everything exactly once.
import { Influxd } from '../../src/devtools/influxd.js';
import { startGateway, waitFor } from '../support/harness.js';
import { storedEventIds } from '../support/influx-query.js';
import { InfluxModule } from '../../src/influx/influx-module.js';


test('stop InfluxDB under load, keep posting, start it again: everything acknowledged arrives once', async () => {
  const influxd = await Influxd.create();
  const h = await startGateway({ INFLUX_URL: influxd.url, INFLUX_DB: 'outage' });
  const token = await h.token('events:fall:ingest');
  const acked: string[] = [];
  const statuses = new Map<number, number>();
  let stop = false;
  const loops = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const r = await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify({ device_id: `o${w}`, event: 'fall', prob: 0.4, event_id: `o-${w}-${i}` }) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (r.status === 200) acked.push(((await r.json()) as { event_id: string }).event_id);
      else await r.text();
    }
  });
  try {
    await waitFor(() => acked.length >= 300, 20_000, 'events before the outage');
    await influxd.stop();
    const atStop = acked.length;
    await waitFor(() => acked.length >= atStop + 500, 20_000, 'events accepted during the outage');
    await waitFor(async () => (await fetch(`${h.url}/ready`)).status === 503, 20_000, '/ready to report the outage');
    expect(h.gw.module(InfluxModule)!.writer!.status().ready).toBe(false);
    await influxd.start();
    await waitFor(() => acked.length >= atStop + 800, 20_000, 'events after the outage');
    stop = true;
    await Promise.all(loops);
    expect([...statuses.keys()]).toEqual([200]);
    await waitFor(() => h.gw.module(InfluxModule)!.writer!.status().backlog === 0, 60_000, 'the backlog to drain');
    const stored = await storedEventIds('outage', 'fall_events', influxd.url);
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    expect(stored.size).toBe(acked.length);
  } finally {
    stop = true;
    await Promise.all(loops);
    await h.close();
    await influxd.destroy();
  }
}, 120_000);
