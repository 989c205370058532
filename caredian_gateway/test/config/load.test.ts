import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';

const NO_OPTIONS = '/nonexistent/options.json';
const load = (env: Record<string, string>) => loadConfig({ env, optionsPath: NO_OPTIONS });
const problems = (env: Record<string, string>): string[] => {
  try {
    load(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration from the environment (standalone)', () => {
  test('defaults: the seed values, ports 8080/8099, ./data', () => {
    const c = load({});
    expect(c.mode).toBe('standalone');
    expect(c.port).toBe(8080);
    expect(c.ingress_port).toBe(8099);
    expect(c.data_dir).toBe(join(process.cwd(), 'data'));
    expect(c.jwt_aud).toBe('caredian-gw');
    expect(c.jwt_iss).toBe('urn:caredian:gw');
    expect(c.jwt_ttl_seconds).toBe(43200);
    expect(c.influx_measurement).toBe('fall_events');
    expect(c.location_default).toBe('home');
    expect(c.fall_decision_mode).toBe('sensor_or_model');
    expect(c.influx_url).toBeUndefined();
  });

  test("the seed's .env values parse (LOG_LEVEL=INFO, LOG_JSON=1, JSON list origins, INFLUX_VERIFY_TLS=0)", () => {
    const c = load({
      LOG_LEVEL: 'INFO',
      LOG_JSON: '1',
      ALLOWED_ORIGINS: '["http://localhost:3000","https://gw-caredian.gleeze.com"]',
      INFLUX_VERIFY_TLS: '0',
      INFLUX_TIMEOUT_SEC: '10',
      JWT_TTL_SECONDS: '43200',
      FALL_THRESHOLD: '0.58',
      FALL_SMOOTH_K: '3',
      HA_NOTIFY_PERSIST: 'notify.persistent_notification',
      HA_NOTIFY_MOBILE: 'notify.mobile_app',
      TLS_REQUIRE_CLIENT_CERT: 'false',
    });
    expect(c.log_level).toBe('info');
    expect(c.log_json).toBe(true);
    expect(c.allowed_origins).toEqual(['http://localhost:3000', 'https://gw-caredian.gleeze.com']);
    expect(c.influx_verify_tls).toBe(false);
    expect(c.fall_threshold).toBe(0.58);
    expect(c.ha_notify_mobile).toEqual(['notify.mobile_app']);
  });

  test("CC_CLIENTS_JSON: the seed's form gets every scope", () => {
    const c = load({ CC_CLIENTS_JSON: '{"esp32-01":"S3cr3t_Long_Random"}' });
    expect(c.cc_clients).toEqual([{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random', scopes: ['events:fall:ingest', 'events:imu:ingest', 'devices:write'] }]);
  });

  test('CC_CLIENTS_JSON: the extended form keeps its scopes', () => {
    const c = load({ CC_CLIENTS_JSON: '{"esp32-01":{"secret":"S3cr3t_Long_Random","scopes":["events:fall:ingest"]}}' });
    expect(c.cc_clients[0]!.scopes).toEqual(['events:fall:ingest']);
  });

  test('each problem is one line naming the key, and secrets are never echoed', () => {
    const secret = 'short-Secret';
    const p = problems({ JWT_TTL_SECONDS: 'abc', PORT: '70000', CC_CLIENTS_JSON: `{"esp32-01":"${secret}"}`, LOG_LEVEL: 'loud', INFLUX_URL: 'ftp://x' });
    expect(p.length).toBeGreaterThanOrEqual(5);
    for (const line of p) expect(line).not.toContain('\n');
    expect(p.find((l) => l.startsWith('JWT_TTL_SECONDS:'))).toMatch(/whole number/);
    expect(p.find((l) => l.startsWith('PORT:'))).toMatch(/at most 65535/);
    expect(p.find((l) => l.startsWith('CC_CLIENTS_JSON'))).toMatch(/at least 16/);
    expect(p.find((l) => l.startsWith('LOG_LEVEL:'))).toBeDefined();
    expect(p.find((l) => l.startsWith('INFLUX_URL:'))).toMatch(/http/);
    expect(p.join('\n')).not.toContain(secret);
  });

  test('invalid JSON in CC_CLIENTS_JSON is reported without its text', () => {
    const p = problems({ CC_CLIENTS_JSON: '{"esp32-01": TopSecretValue' });
    expect(p).toEqual(['CC_CLIENTS_JSON: is not valid JSON']);
  });

  test('unknown scopes, duplicate-looking errors and cross-field rules', () => {
    expect(problems({ CC_CLIENTS_JSON: '{"a1":{"secret":"0123456789abcdef","scopes":["admin"]}}' }).join()).toMatch(/unknown scope/);
    expect(problems({ TLS_CERT: '/x.pem' })).toContain('TLS_CERT/TLS_KEY: set both or neither');
    expect(problems({ TLS_REQUIRE_CLIENT_CERT: 'true' })).toContain('TLS_REQUIRE_CLIENT_CERT: needs TLS_CA and TLS_CERT/TLS_KEY');
    expect(problems({ INFLUX_MEASUREMENT: 'fall events' }).join()).toMatch(/INFLUX_MEASUREMENT/);
    expect(problems({ LOG_JSON: 'maybe' }).join()).toMatch(/LOG_JSON: must be true or false/);
  });
});

describe('configuration from /data/options.json (add-on)', () => {
  const write = (o: unknown) => {
    const dir = mkdtempSync(join(tmpdir(), 'opts-'));
    const p = join(dir, 'options.json');
    writeFileSync(p, typeof o === 'string' ? o : JSON.stringify(o));
    return p;
  };

  test('add-on mode: options are typed values, data dir is /data, cert paths are under /ssl; env sets only container-level settings', () => {
    const c = loadConfig({
      env: { PORT: '1234', CC_CLIENTS_JSON: '{"ignored":"0123456789abcdef"}' },
      optionsPath: write({ log_level: 'debug', cc_clients: [{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random', scopes: 'events:fall:ingest devices:write' }], tls_cert: 'fullchain.pem', tls_key: 'privkey.pem', ha_notify_mobile: ['notify.mobile_app_a'] }),
    });
    expect(c.mode).toBe('addon');
    expect(c.data_dir).toBe('/data');
    expect(c.port).toBe(1234);
    expect(c.ingress_port).toBe(8099);
    expect(c.log_level).toBe('debug');
    expect(c.cc_clients).toEqual([{ client_id: 'esp32-01', secret: 'S3cr3t_Long_Random', scopes: ['events:fall:ingest', 'devices:write'] }]);
    expect(c.tls_cert).toBe('/ssl/fullchain.pem');
  });

  test('unknown options and standalone-only settings are rejected by name', () => {
    expect(() => loadConfig({ env: {}, optionsPath: write({ port: 1, colour: 'red' }) })).toThrow(ConfigError);
    try {
      loadConfig({ env: {}, optionsPath: write({ port: 1, colour: 'red' }) });
    } catch (e) {
      expect((e as ConfigError).problems).toEqual(['port: unknown option', 'colour: unknown option']);
    }
  });

  test('a broken options.json is one clear line', () => {
    expect(() => loadConfig({ env: {}, optionsPath: write('{nope') })).toThrow(/options.json: is not valid JSON/);
  });
});

describe('start-up with bad configuration', () => {
  test('exits non-zero with one line per problem and no secret', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'main.js')], {
      env: { PATH: process.env.PATH, CAREDIAN_OPTIONS_PATH: NO_OPTIONS, JWT_TTL_SECONDS: '-5', CC_CLIENTS_JSON: '{"esp32-01":"tiny-secret"}', DATA_DIR: mkdtempSync(join(tmpdir(), 'bad-')) },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^config error: JWT_TTL_SECONDS: must be at least 60$/), expect.stringMatching(/^config error: CC_CLIENTS_JSON.*at least 16/)]));
    expect(r.stderr).not.toContain('tiny-secret');
  });
});
