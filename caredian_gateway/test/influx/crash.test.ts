// Kill -9 at any moment must lose no acknowledged event, and store none twice.
import { startChildGateway, adminStatus } from '../support/child-gateway.js';
import { influxUrl, tempDir, waitFor } from '../support/harness.js';
import { storedEventIds, uniqueDb } from '../support/influx-query.js';
import { fallLoad } from '../support/fall-load.js';


test('SIGKILL under concurrent load, twice: every acknowledged event_id is in InfluxDB exactly once', async () => {
  const db = uniqueDb('crash');
  const dataDir = tempDir('caredian-crash-');
  const env = { INFLUX_URL: influxUrl(), INFLUX_DB: db, DATA_DIR: dataDir };
  const allAcked: string[] = [];
  let ports: { port: number; ingress: number } | undefined;
  for (const round of [1, 2]) {
    const gw = await startChildGateway(env, ports);
    ports = gw.ports;
    const token = await gw.token('events:fall:ingest');
    const l = fallLoad(gw.url, token, `r${round}`, 24);
    await waitFor(() => l.acked.length >= 800 * round, 30_000, 'acknowledged events');
    await gw.kill('SIGKILL');
    await l.done();
    allAcked.push(...l.acked);
  }
  const gw = await startChildGateway(env, ports);
  try {
    await waitFor(async () => {
      const s = await adminStatus(gw.adminUrl);
      return s.checks.influxdb!.backlog === 0 && s.checks.influxdb!.cursor === s.storage.last_seq;
    }, 30_000, 'the writer to catch up after restart');
    const stored = await storedEventIds(db);
    const missing = allAcked.filter((id) => !stored.has(id));
    expect(missing).toEqual([]);
    const twice = [...stored].filter(([, n]) => n !== 1);
    expect(twice).toEqual([]);
    expect(allAcked.length).toBeGreaterThanOrEqual(1600);
  } finally {
    await gw.kill('SIGTERM');
  }
}, 120_000);
