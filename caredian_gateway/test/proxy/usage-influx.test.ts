import { ADMIN_TOKEN, influxUrl, startGateway, waitFor } from '../support/harness.js';
import { influxQuery, uniqueDb } from '../support/influx-query.js';
import { TextAnalyser } from '../support/text-analyser.js';

test('usage records reach InfluxDB (api_usage) and /api/usage reads them from there', async () => {
  const up = new TextAnalyser();
  await up.start();
  const db = uniqueDb('usage');
  const g = await startGateway({
    INFLUX_URL: influxUrl(),
    INFLUX_DB: db,
    API_KEYS_JSON: JSON.stringify({ gamma: 'gamma-key-0123456789abc' }),
    PROXY_UPSTREAMS_JSON: JSON.stringify({ a: { url: `${up.url}/a`, require_signature: false } }),
  });
  try {
    let received = 0;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${g.url}/proxy/a?i=${i}`, { method: 'POST', headers: { Authorization: 'Bearer gamma-key-0123456789abc' }, body: '{"text":"stupid"}' });
      received += (await r.arrayBuffer()).byteLength;
    }
    await waitFor(async () => (await influxQuery(db, 'SELECT count("request_bytes") FROM "api_usage"').catch(() => []))[0]?.values[0]?.[1] === 4, 15_000, 'usage points');
    const series = await influxQuery(db, 'SELECT * FROM "api_usage" LIMIT 1');
    expect(series[0]!.columns.sort()).toEqual(['duration_ms', 'error', 'key', 'method', 'path', 'request_bytes', 'response_bytes', 'status', 'time', 'upstream'].sort());
    const u = (await (await fetch(`${g.adminUrl}/api/usage`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { source: string; keys: unknown[] };
    expect(u.source).toBe('influxdb');
    expect(u.keys).toEqual([{ key: 'gamma', requests: 4, errors: 0, request_bytes: 4 * 17, response_bytes: received }]);
  } finally {
    await g.close();
    await up.stop();
  }
});
