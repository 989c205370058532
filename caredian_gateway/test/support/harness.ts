// Builds a real gateway on ephemeral ports with a temp data directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/core/logger.js';
import { Gateway, type GatewayOptions } from '../../src/gateway.js';

export const CLIENT_ID = 'esp32-01';
export const CLIENT_SECRET = 'S3cr3t_Long_Random';
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export function tempDir(prefix = 'caredian-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function testConfig(env: Record<string, string> = {}, dataDir = tempDir()): Config {
  return loadConfig({
    optionsPath: '/nonexistent/options.json',
    env: {
      PORT: '0',
      INGRESS_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ADMIN_TOKEN,
      LOG_LEVEL: 'warn',
      // Existing tests expect alerts at once; the wearer's window has its own tests.
      CONFIRM_WINDOW_SEC: '0',
      // Tests introduce many devices quickly; the device-limit tests set their own rate.
      MAX_NEW_DEVICES_PER_MIN: '10000',
      // Trusted hubs (any device id), so tests post for many devices; ownership tests bring their own clients.
      CC_CLIENTS_JSON: JSON.stringify({ [CLIENT_ID]: { secret: CLIENT_SECRET, devices: ['*'] }, 'sensor-fall-only': { secret: 'another-long-secret-1', scopes: ['events:fall:ingest'], devices: ['*'] } }),
      ...env,
    },
  });
}

/** Captures log lines in memory (tests grep them for secrets). */
export class LogSink extends Writable {
  lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean));
    cb();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

export interface Harness {
  gw: Gateway;
  config: Config;
  logs: LogSink;
  url: string;
  adminUrl: string;
  token(scope?: string, client?: [string, string]): Promise<string>;
  close(): Promise<void>;
}

export async function startGateway(env: Record<string, string> = {}, opts: GatewayOptions & { dataDir?: string; keepData?: boolean } = {}): Promise<Harness> {
  const config = testConfig(env, opts.dataDir);
  const logs = new LogSink();
  const log = createLogger({ level: config.log_level, json: true }, logs);
  const gw = await Gateway.create(config, log, opts);
  await gw.start();
  const proto = config.tls_cert ? 'https' : 'http';
  const url = `${proto}://127.0.0.1:${gw.devicePort}`;
  return {
    gw,
    config,
    logs,
    url,
    adminUrl: `http://127.0.0.1:${gw.adminPort}`,
    async token(scope, client = [CLIENT_ID, CLIENT_SECRET]) {
      const body = new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) });
      const r = await fetch(`${url}/auth/cc/token`, { method: 'POST', body, headers: { Authorization: `Basic ${Buffer.from(client.join(':')).toString('base64')}` } });
      if (r.status !== 200) throw new Error(`token request failed: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { access_token: string }).access_token;
    },
    async close() {
      await gw.stop();
      if (!opts.keepData) rmSync(config.data_dir, { recursive: true, force: true });
    },
  };
}

export function influxUrl(): string {
  const u = process.env.CAREDIAN_TEST_INFLUX_URL;
  if (!u) throw new Error('CAREDIAN_TEST_INFLUX_URL is not set: the jest global setup starts InfluxDB');
  return u;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
