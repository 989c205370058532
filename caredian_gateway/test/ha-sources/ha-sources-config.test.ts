// The ha_sources and mqtt_ingest options: what loads, what is refused with a clear reason, and
// what the gateway says when an input is on but cannot hear anything.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { withSourceDevices } from '../../src/ha-sources/source-devices.js';
import { startGateway } from '../support/harness.js';

const load = (env: Record<string, string>) => loadConfig({ env, optionsPath: '/nonexistent/options.json' });
const problems = (sources: unknown): string[] => {
  try {
    load({ HA_SOURCES_JSON: JSON.stringify(sources) });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

test('ha_sources: the device id defaults to the object id, blanks are unset, and each source describes its device', () => {
  const c = load({
    HA_SOURCES_JSON: JSON.stringify([
      { entity_id: 'binary_sensor.hallway_radar_fall', kind: 'fall', person: 'Grandma Kim', location: 'hallway' },
      { entity_id: 'event.help_button', kind: 'help', device_id: 'pendant-1', person: '', state: '' },
    ]),
    DEVICES_JSON: JSON.stringify([{ device_id: 'pendant-1', name: 'Pendant', person: 'Tom' }]),
  });
  expect(c.ha_sources).toEqual([
    { entity_id: 'binary_sensor.hallway_radar_fall', kind: 'fall', device_id: 'hallway_radar_fall', person: 'Grandma Kim', location: 'hallway' },
    { entity_id: 'event.help_button', kind: 'help', device_id: 'pendant-1' },
  ]);
  // The devices option wins where it lists the device; other sources add their person and location.
  expect(withSourceDevices(c).devices).toEqual([
    { device_id: 'pendant-1', name: 'Pendant', person: 'Tom' },
    { device_id: 'hallway_radar_fall', person: 'Grandma Kim', location: 'hallway' },
  ]);
  expect(load({}).ha_sources).toEqual([]);
  expect(load({}).mqtt_ingest).toBe(false);
});

test('ha_sources as add-on options (a list) load the same way', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ha-sources-opts-'));
  const p = join(dir, 'options.json');
  writeFileSync(p, JSON.stringify({ ha_sources: [{ entity_id: 'binary_sensor.fp2_fall', kind: 'fall', device_id: 'fp2' }], mqtt_ingest: true }));
  const c = loadConfig({ env: {}, optionsPath: p });
  expect(c.ha_sources).toEqual([{ entity_id: 'binary_sensor.fp2_fall', kind: 'fall', device_id: 'fp2' }]);
  expect(c.mqtt_ingest).toBe(true);
});

test('ha_sources refuses what cannot work, saying why', () => {
  expect(problems([{ entity_id: 'Binary_Sensor.Radar', kind: 'fall' }]).join(' ')).toMatch(/must be a Home Assistant entity id/);
  expect(problems([{ entity_id: 'binary_sensor.radar', kind: 'fell' }]).join(' ')).toMatch(/kind must be fall or help/);
  expect(problems([{ entity_id: 'binary_sensor.radar', kind: 'fall' }, { entity_id: 'binary_sensor.radar', kind: 'help' }]).join(' ')).toMatch(/"binary_sensor.radar" is listed twice/);
  expect(problems([{ entity_id: `binary_sensor.${'x'.repeat(70)}`, kind: 'fall' }]).join(' ')).toMatch(/too long for a device id; give device_id/);
  // The gateway's own fall entity turns on for alerts it raised: as a source it would raise each again.
  expect(problems([{ entity_id: 'binary_sensor.caredian_band_7_fall', kind: 'fall' }]).join(' ')).toMatch(/one of the gateway's own entities/);
});

test('mqtt_ingest on without a broker, ha_sources without Home Assistant: the status says nothing is heard', async () => {
  const h = await startGateway({ MQTT_INGEST: 'true', HA_SOURCES_JSON: JSON.stringify([{ entity_id: 'binary_sensor.radar_fall', kind: 'fall' }]) });
  try {
    const r = h.gw.readiness.evaluate();
    expect(r.checks.mqtt_input).toMatchObject({ mode: 'on', warning: expect.stringMatching(/mqtt_ingest is on, but MQTT is not used: no MQTT broker configured \(MQTT_URL\): devices publishing over MQTT are not heard/) });
    expect(r.checks.ha_sources).toMatchObject({ warning: expect.stringMatching(/no Home Assistant connection: falls and calls for help from those entities are not heard/) });
    expect(r.status).toBe('degraded');
  } finally {
    await h.close();
  }
});
