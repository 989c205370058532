// config.yaml (what the Supervisor shows and validates) must agree with the gateway's own zod schema.
import { existsSync, readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { FIELDS, ConfigSchema, PLACEMENTS } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';

const root = process.cwd();
const addon = parse(readFileSync(join(root, 'config.yaml'), 'utf8')) as { version: string; options: Record<string, unknown>; schema: Record<string, unknown>; [k: string]: unknown };
const translations = parse(readFileSync(join(root, 'translations', 'en.yaml'), 'utf8')) as { configuration: Record<string, { name: string; description: string }>; network: Record<string, string> };
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const addonFields = Object.entries(FIELDS).filter(([, f]) => f.addon).map(([k]) => k);
const defaults = ConfigSchema.parse({}) as Record<string, unknown>;

test("config.yaml's version equals package.json's", () => {
  expect(addon.version).toBe(pkg.version);
});

test('the same keys: every add-on field has a schema entry, and nothing else does', () => {
  expect(Object.keys(addon.schema).sort()).toEqual([...addonFields].sort());
  for (const k of Object.keys(addon.options)) expect(addon.schema).toHaveProperty(k);
});

test('options carry the zod defaults; optional schema entries are the fields without a default', () => {
  for (const k of addonFields) {
    const entry = addon.schema[k];
    const optional = typeof entry === 'string' && entry.endsWith('?');
    if (defaults[k] === undefined) {
      expect([k, optional]).toEqual([k, true]);
      expect(addon.options).not.toHaveProperty(k);
    } else {
      expect([k, addon.options[k]]).toEqual([k, defaults[k]]);
    }
  }
});

// Sample values from a Supervisor schema type, split into ones zod must accept and ones it must refuse.
function samples(type: string): { good: unknown[]; bad: unknown[] } {
  const t = type.replace(/\?$/, '');
  let m: RegExpExecArray | null;
  if ((m = /^int\((-?\d+),(-?\d+)\)$/.exec(t))) return { good: [Number(m[1]), Number(m[2])], bad: [Number(m[1]) - 1, Number(m[2]) + 1, 1.5] };
  if ((m = /^float\(([\d.-]+),([\d.-]+)\)$/.exec(t))) return { good: [Number(m[1]), Number(m[2]), (Number(m[1]) + Number(m[2])) / 2], bad: [Number(m[1]) - 0.01, Number(m[2]) + 0.01] };
  if (t === 'bool') return { good: [true, false], bad: [] };
  if ((m = /^list\((.+)\)$/.exec(t))) return { good: m[1]!.split('|'), bad: ['not-an-option'] };
  if (t === 'url') return { good: ['http://192.168.1.5:8086', 'https://influx.example'], bad: ['ftp://x'] };
  if ((m = /^match\((.+)\)$/.exec(t))) return { good: [], bad: ['has space\n'] };
  return { good: [], bad: [] };
}

test('types and ranges are compatible (each Supervisor bound is the zod bound)', () => {
  for (const k of addonFields) {
    const entry = addon.schema[k];
    if (typeof entry !== 'string') continue;
    const { good, bad } = samples(entry);
    const schema = FIELDS[k as keyof typeof FIELDS].schema;
    for (const v of good) expect([k, v, schema.safeParse(v).success]).toEqual([k, v, true]);
    for (const v of bad) expect([k, v, schema.safeParse(v).success]).toEqual([k, v, false]);
  }
  // list() entries name exactly the zod enum's options.
  expect((addon.schema.fall_decision_mode as string).slice(5, -1).split('|').sort()).toEqual(['model_only', 'sensor_and_model', 'sensor_only', 'sensor_or_model']);
});

test("the add-on's default options load through the gateway's own loader", () => {
  const dir = mkdtempSync(join(tmpdir(), 'addon-opts-'));
  const p = join(dir, 'options.json');
  writeFileSync(p, JSON.stringify({ ...addon.options, cc_clients: [{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random', scopes: 'events:fall:ingest' }] }));
  const c = loadConfig({ env: {}, optionsPath: p });
  expect(c.mode).toBe('addon');
  for (const k of Object.keys(addon.options)) if (k !== 'cc_clients') expect([k, (c as unknown as Record<string, unknown>)[k]]).toEqual([k, defaults[k]]);
});

// The defaults in frenck/action-addon-linter's config schema: a key written at its default is a lint error.
const LINTER_DEFAULTS: Record<string, unknown> = {
  advanced: false, apparmor: true, audio: false, auth_api: false, auto_uart: false, backup: 'hot', boot: 'auto', devicetree: false, docker_api: false,
  full_access: false, gpio: false, hassio_api: false, hassio_role: 'default', homeassistant_api: false, host_dbus: false, host_ipc: false, host_network: false,
  host_pid: false, host_uts: false, ingress: false, ingress_port: 8099, ingress_stream: false, init: true, journald: false, kernel_modules: false, legacy: false,
  panel_admin: true, panel_icon: 'mdi:puzzle', realtime: false, stage: 'stable', startup: 'application', stdin: false, timeout: 10, tmpfs: false, uart: false,
  udev: false, usb: false, video: false,
};

test('config.yaml follows the linter rules: no key at its Supervisor default, nothing obsolete', () => {
  for (const [k, def] of Object.entries(LINTER_DEFAULTS)) if (k in addon) expect([k, addon[k]]).not.toEqual([k, def]);
  expect(addon).not.toHaveProperty('ingress_port');
  expect(addon).not.toHaveProperty('watchdog');
  expect(addon).not.toHaveProperty('webui');
  expect(addon.arch).toEqual(['amd64', 'aarch64']);
  expect(addon.ingress).toBe(true);
  // s6-overlay's /init must be PID 1, not Docker's tini.
  expect(addon.init).toBe(false);
  expect(addon.homeassistant_api).toBe(true);
  expect(addon.services).toEqual(['mqtt:want']);
  expect(addon.ports).toEqual({ '8080/tcp': 8080 });
  expect(Object.keys(addon.ports_description as object)).toEqual(Object.keys(addon.ports as object));
});

test('the gateway listens for ingress where the Supervisor sends it (its default 8099)', () => {
  expect(defaults.ingress_port).toBe(LINTER_DEFAULTS.ingress_port);
});

test('a pre-built image per architecture; no build.yaml (the Dockerfile names its base)', () => {
  expect(addon.image).toBe('ghcr.io/caredian/{arch}-caredian-gateway');
  for (const f of ['build.yaml', 'build.yml', 'build.json']) expect([f, existsSync(join(root, f))]).toEqual([f, false]);
});

test('devices: the add-on list form loads, blanks are unset, placement is the same enum in both places', () => {
  const entry = (addon.schema.devices as Record<string, string>[])[0]!;
  expect(entry.placement!.replace(/^list\(|\)\?$/g, '').split('|')).toEqual([...PLACEMENTS]);
  for (const k of ['name', 'person', 'location', 'placement']) expect([k, entry[k]!.endsWith('?')]).toEqual([k, true]);
  const devices = FIELDS.devices.schema.parse([{ device_id: 'band-7', name: 'Wrist band', person: 'Grandma Kim', location: 'bathroom', placement: 'wrist' }, { device_id: 'radar-2', name: '', person: '' }]);
  expect(devices).toEqual([{ device_id: 'band-7', name: 'Wrist band', person: 'Grandma Kim', location: 'bathroom', placement: 'wrist' }, { device_id: 'radar-2' }]);
  expect(FIELDS.devices.schema.safeParse([{ device_id: 'band-7', placement: 'elbow' }]).success).toBe(false);
  expect(FIELDS.devices.schema.safeParse([{ device_id: 'band-7' }, { device_id: 'band-7' }]).success).toBe(false);
  expect(FIELDS.devices.env).toEqual(['DEVICES_JSON']);
});

test('translations name and describe every option and the device port', () => {
  for (const k of Object.keys(addon.schema)) {
    expect(translations.configuration[k]?.name).toEqual(expect.any(String));
    expect(translations.configuration[k]?.description).toEqual(expect.any(String));
  }
  expect(Object.keys(translations.configuration).sort()).toEqual(Object.keys(addon.schema).sort());
  expect(translations.network['8080/tcp']).toEqual(expect.any(String));
});
