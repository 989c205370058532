// One real InfluxDB for the whole run (each test file uses its own database). Uses the compiled
// launcher: `npm test` builds dist/ first.
import { Influxd } from '../../dist/devtools/influxd.js';

export default async function globalSetup() {
  const influxd = await Influxd.create();
  globalThis.__influxd = influxd;
  process.env.CAREDIAN_TEST_INFLUX_URL = influxd.url;
}
