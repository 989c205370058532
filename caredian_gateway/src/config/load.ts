// Reads the configuration: /data/options.json as an add-on, the environment when standalone.
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { z } from 'zod';
import { ConfigSchema, FIELDS, type Config, type FieldName } from './schema.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Defaults to $CAREDIAN_OPTIONS_PATH or /data/options.json. */
  optionsPath?: string;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const optionsPath = opts.optionsPath ?? env.CAREDIAN_OPTIONS_PATH ?? '/data/options.json';
  const addon = existsSync(optionsPath);
  const raw: Record<string, unknown> = {};
  const label = new Map<string, string>();

  if (addon) {
    let options: unknown;
    try {
      options = JSON.parse(readFileSync(optionsPath, 'utf8'));
    } catch {
      throw new ConfigError([`${optionsPath}: is not valid JSON`]);
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new ConfigError([`${optionsPath}: must be a JSON object`]);
    const problems: string[] = [];
    for (const [k, v] of Object.entries(options)) {
      const f = (FIELDS as Record<string, { addon: boolean }>)[k];
      if (!f || !f.addon) problems.push(`${k}: unknown option`);
      else raw[k] = v;
    }
    if (problems.length) throw new ConfigError(problems);
    for (const k of Object.keys(FIELDS)) label.set(k, k);
    // Container-level settings (ports, data dir) are not options; the environment may still set
    // them (nothing does inside the add-on, where config.yaml fixes them).
    for (const [k, f] of Object.entries(FIELDS)) {
      if (f.addon) continue;
      const name = f.env.find((e) => env[e] !== undefined);
      if (name !== undefined) {
        raw[k] = env[name];
        label.set(k, name);
      }
    }
    raw.data_dir ??= '/data';
  } else {
    for (const [k, f] of Object.entries(FIELDS)) {
      const name = f.env.find((e) => env[e] !== undefined);
      label.set(k, f.env[0]!);
      if (name !== undefined) {
        raw[k] = env[name];
        label.set(k, name);
      }
    }
  }

  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(describe(parsed.error, label));
  const c = parsed.data;
  const problems = crossChecks(c);
  if (problems.length) throw new ConfigError(problems);
  const dataDir = resolve(c.data_dir ?? './data');
  const sslDir = (p: string | undefined) => (p === undefined || isAbsolute(p) || !addon ? p : resolve('/ssl', p));
  return {
    ...c,
    tls_cert: sslDir(c.tls_cert),
    tls_key: sslDir(c.tls_key),
    tls_ca: sslDir(c.tls_ca),
    data_dir: dataDir,
    mode: addon ? 'addon' : 'standalone',
  };
}

/** For a union, the issues of the branch that got furthest: they say what is actually wrong. */
function flatten(issues: readonly z.core.$ZodIssue[], prefix: PropertyKey[] = []): z.core.$ZodIssue[] {
  return issues.flatMap((i) => {
    const path = [...prefix, ...i.path];
    if (i.code === 'invalid_union' && i.errors.length) {
      const depth = (b: readonly z.core.$ZodIssue[]) => Math.max(...b.map((x) => x.path.length + (x.code === 'invalid_union' ? 1 : 0)));
      const best = [...i.errors].sort((a, b) => depth(b) - depth(a))[0]!;
      return flatten(best, path);
    }
    return [{ ...i, path }];
  });
}

function describe(err: z.ZodError, label: Map<string, string>): string[] {
  return [...new Set(flatten(err.issues).map((i) => {
    const key = String(i.path[0] ?? '');
    const name = label.get(key) ?? key;
    const rest = i.path.slice(1).map(String);
    const where = rest.length ? `${name} (at ${rest.join('.')})` : name;
    // Never print the offending value: it may be a secret.
    return `${where}: ${i.message}`;
  }))];
}

function crossChecks(c: z.output<typeof ConfigSchema>): string[] {
  const p: string[] = [];
  if ((c.tls_cert === undefined) !== (c.tls_key === undefined)) p.push('TLS_CERT/TLS_KEY: set both or neither');
  if (c.tls_require_client_cert && (c.tls_ca === undefined || c.tls_cert === undefined))
    p.push('TLS_REQUIRE_CLIENT_CERT: needs TLS_CA and TLS_CERT/TLS_KEY');
  if ((c.jwt_private_pem_path === undefined) !== (c.jwt_public_pem_path === undefined))
    p.push('JWT_PRIVATE_PEM_PATH/JWT_PUBLIC_PEM_PATH: set both or neither');
  if ((c.ha_base_url === undefined) !== (c.ha_token === undefined) && c.ha_base_url !== undefined)
    p.push('HA_TOKEN: required when HA_BASE_URL is set');
  if (c.influx_password !== undefined && c.influx_username === undefined) p.push('INFLUX_USERNAME: required when INFLUX_PASSWORD is set');
  return p;
}

/** The names of settings that hold secrets, for log redaction and config dumps. */
export const SECRET_KEYS: FieldName[] = (Object.keys(FIELDS) as FieldName[]).filter((k) => FIELDS[k].secret);
