// The devices a client owns, in every accepted form of CC_CLIENTS_JSON and the add-on's list.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { ClientConfig } from '../../src/config/schema.js';
import { DeviceOwnership } from '../../src/ingest/device-ownership.js';

const fromEnv = (json: unknown) => loadConfig({ env: { CC_CLIENTS_JSON: JSON.stringify(json) }, optionsPath: '/nonexistent/options.json' }).cc_clients;
const fromOptions = (cc_clients: unknown) => {
  const p = join(mkdtempSync(join(tmpdir(), 'owner-opts-')), 'options.json');
  writeFileSync(p, JSON.stringify({ cc_clients }));
  return loadConfig({ env: {}, optionsPath: p }).cc_clients;
};
const owns = (clients: ClientConfig[], client: string, device: string) => new DeviceOwnership(clients).allows(client, device);
const S = 'S3cr3t_Long_Random';

test("the seed's form {id: secret}: a client owns only the device id equal to its client id", () => {
  const c = fromEnv({ 'esp32-01': S });
  expect(c[0]!.devices).toBeUndefined();
  expect(owns(c, 'esp32-01', 'esp32-01')).toBe(true);
  expect(owns(c, 'esp32-01', 'esp32-02')).toBe(false);
  // A client that is not configured (any more) owns nothing.
  expect(owns(c, 'gone', 'gone')).toBe(false);
});

test('the extended form {id: {secret, devices}}: exact ids, prefixes ending in *, or * (as a list or comma-separated)', () => {
  const c = fromEnv({ hub: { secret: S, devices: ['ward3-*', 'lobby'] }, any: { secret: S, devices: '*' }, pair: { secret: S, devices: 'band 01, band 02' } });
  expect(c.map((x) => x.devices)).toEqual([['ward3-*', 'lobby'], ['*'], ['band 01', 'band 02']]);
  expect([owns(c, 'hub', 'ward3-bed'), owns(c, 'hub', 'lobby'), owns(c, 'hub', 'lobby2'), owns(c, 'hub', 'ward4-bed'), owns(c, 'hub', 'hub')]).toEqual([true, true, false, false, false]);
  expect(owns(c, 'any', 'whatever it is')).toBe(true);
  expect([owns(c, 'pair', 'band 01'), owns(c, 'pair', 'band 02'), owns(c, 'pair', 'band')]).toEqual([true, true, false]);
});

test("the list form (CC_CLIENTS_JSON and the add-on's options) with devices as a comma-separated string", () => {
  const list = [{ client_id: 'hub', secret: S, scopes: 'devices:write', devices: 'ward3-*, lobby sensor' }, { client_id: 'band', secret: S, devices: '' }];
  for (const c of [fromEnv(list), fromOptions(list)]) {
    expect(c.map((x) => [x.client_id, x.devices])).toEqual([['hub', ['ward3-*', 'lobby sensor']], ['band', undefined]]);
    expect([owns(c, 'hub', 'ward3-x'), owns(c, 'hub', 'lobby sensor'), owns(c, 'band', 'band'), owns(c, 'band', 'ward3-x')]).toEqual([true, true, true, false]);
  }
});

test('a device entry that is neither an id, a prefix with *, nor * is a configuration error', () => {
  for (const bad of ['ward*3', 'a,b=c*', '**', ' x']) {
    let problems: string[] = [];
    try {
      fromEnv({ hub: { secret: S, devices: [bad] } });
    } catch (e) {
      if (e instanceof ConfigError) problems = e.problems;
    }
    expect([bad, problems.join()]).toEqual([bad, expect.stringMatching(/CC_CLIENTS_JSON/)]);
  }
});
