// The one configuration schema. Every setting is declared once here with its environment
// name(s) (the seed's `.env` names) and whether it is an add-on option in config.yaml.
import { z } from 'zod';
import { bool, int, json, num, optionalString, stringList } from './coerce.js';
import { SAFE_NAME, SAFE_NAME_RULE } from '../core/names.js';

export const KNOWN_SCOPES = ['events:fall:ingest', 'events:imu:ingest', 'devices:write'] as const;
export type Scope = (typeof KNOWN_SCOPES)[number];

export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
const MIN_SECRET = 16;

const scopes = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(/[\s,]+/)).filter(Boolean))
  .pipe(z.array(z.enum(KNOWN_SCOPES, { error: `unknown scope; allowed: ${KNOWN_SCOPES.join(', ')}` })));

const secret = z
  .string({ error: 'secret must be a string' })
  .min(MIN_SECRET, { error: `secret must be at least ${MIN_SECRET} characters` });

const clientId = z.string().regex(SAFE_ID, { error: 'client id must be 1-64 characters of A-Z a-z 0-9 . _ : @ -' });

export interface ClientConfig {
  client_id: string;
  secret: string;
  scopes: Scope[];
  /** Device ids the client may post for (exact, `prefix*`, or `*`); absent: only its own client id. */
  devices?: string[];
}

const DEVICE_PATTERN_RULE = 'each device is a device id, a prefix ending in * (ward3-*), or * for any device';
/** An exact device id, a device id prefix followed by `*`, or a lone `*`. */
export const isDevicePattern = (p: string) => p === '*' || SAFE_NAME.test(p) || (p.endsWith('*') && SAFE_NAME.test(`${p.slice(0, -1)}x`));
const devices = z
  .union([z.string(), z.array(z.string())])
  // Commas separate (device ids may contain spaces, never commas).
  .transform((v) => (Array.isArray(v) ? v : v.split(',').map((d) => d.trim())).filter(Boolean))
  .pipe(z.array(z.string().refine(isDevicePattern, { error: DEVICE_PATTERN_RULE })));

const clientRecord = z.record(
  z.string(),
  z.union([secret, z.object({ secret, scopes: scopes.optional(), devices: devices.optional() })]),
);
const clientList = z.array(z.object({ client_id: clientId, secret, scopes: scopes.optional(), devices: devices.optional() }));

/** Seed form {"id":"secret"}, extended form {"id":{"secret","scopes"}}, or the add-on's list form. */
const clients = json(z.union([clientList, clientRecord]))
  .transform((v): ClientConfig[] => {
    const all = [...KNOWN_SCOPES];
    const owned = (d: string[] | undefined) => (d?.length ? { devices: d } : {});
    if (Array.isArray(v)) return v.map((c) => ({ client_id: c.client_id, secret: c.secret, scopes: c.scopes?.length ? c.scopes : all, ...owned(c.devices) }));
    return Object.entries(v).map(([id, c]) =>
      typeof c === 'string'
        ? { client_id: id, secret: c, scopes: all }
        : { client_id: id, secret: c.secret, scopes: c.scopes?.length ? c.scopes : all, ...owned(c.devices) },
    );
  })
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const c of list) {
      if (!SAFE_ID.test(c.client_id)) ctx.addIssue({ code: 'custom', message: 'client id must be 1-64 characters of A-Z a-z 0-9 . _ : @ -' });
      if (seen.has(c.client_id)) ctx.addIssue({ code: 'custom', message: `client "${c.client_id}" is listed twice` });
      seen.add(c.client_id);
    }
  })
  .default([]);

export interface ApiKeyConfig {
  name: string;
  key: string;
}
const apiKeys = json(
  z.union([
    z.array(z.object({ name: clientId, key: secret })),
    z.record(z.string().regex(SAFE_ID), secret),
  ]),
)
  .transform((v): ApiKeyConfig[] => (Array.isArray(v) ? v : Object.entries(v).map(([name, key]) => ({ name, key }))))
  .default([]);

export interface UpstreamConfig {
  name: string;
  url: string;
  timeout_ms: number;
  max_body_bytes: number;
  require_signature: boolean;
}
const upstreamFields = {
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  timeout_ms: z.number().int().min(100).max(600_000).default(10_000),
  max_body_bytes: z.number().int().min(0).max(100 * 1024 * 1024).default(1024 * 1024),
  require_signature: z.boolean().default(true),
};
/** {"analyze": {"url", ...}} (env) or [{"name", "url", ...}] (add-on options). */
const upstreams = json(
  z.union([
    z.array(z.object({ name: z.string().regex(SAFE_ID, { error: 'upstream name must be 1-64 characters of A-Z a-z 0-9 . _ : @ -' }), ...upstreamFields })),
    z.record(z.string().regex(SAFE_ID, { error: 'upstream name must be 1-64 characters of A-Z a-z 0-9 . _ : @ -' }), z.object(upstreamFields)),
  ]),
)
  .transform((v): UpstreamConfig[] => (Array.isArray(v) ? v : Object.entries(v).map(([name, u]) => ({ name, ...u }))))
  .default([]);

export interface WebhookConfig {
  url: string;
  secret?: string;
}
/** [{"url", "secret"?}] in both the add-on options and ALERT_WEBHOOKS_JSON. */
const webhooks = json(
  z.array(
    z.object({
      url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
      secret: z.preprocess((v) => (v === '' || v === null ? undefined : v), secret.optional()),
    }),
  ),
).default([]);

const logLevel = z
  .preprocess((v) => (typeof v === 'string' ? v.toLowerCase() : v), z.enum(['trace', 'debug', 'info', 'warn', 'warning', 'error', 'fatal']))
  .transform((v) => (v === 'warning' ? 'warn' : v))
  .default('info');

const url = z.preprocess(
  (v) => (v === '' || v === null ? undefined : v),
  z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
);

const mqttUrl = z.preprocess(
  (v) => (v === '' || v === null ? undefined : v),
  z.url({ protocol: /^(mqtt|mqtts|ws|wss)$/, error: 'must be an mqtt://, mqtts://, ws:// or wss:// URL' }).optional(),
);

/** One MQTT topic level: no wildcards, separators or control characters. */
const topicLevel = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ -' });

const measurement = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ and not start with a digit' });

const decisionMode = z.enum(['model_only', 'sensor_only', 'sensor_or_model', 'sensor_and_model']);

/** Where a wearable is worn (or placed); config.yaml lists the same values. */
export const PLACEMENTS = ['waist', 'hip', 'wrist', 'pocket', 'neck', 'chest', 'ankle', 'unknown'] as const;
export type Placement = (typeof PLACEMENTS)[number];

export interface DeviceConfig {
  device_id: string;
  name?: string;
  person?: string;
  location?: string;
  placement?: Placement;
}
const blankIsUnset = <T extends z.ZodType>(inner: T) => z.preprocess((v) => (v === '' || v === null ? undefined : v), inner.optional());
/** [{"device_id", "name"?, "person"?, "location"?, "placement"?}] in the add-on options and DEVICES_JSON. */
const deviceList = json(
  z.array(
    z.object({
      device_id: z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE }),
      name: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      person: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      location: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      placement: blankIsUnset(z.enum(PLACEMENTS, { error: `placement must be one of ${PLACEMENTS.join(', ')}` })),
    }),
  ),
)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const d of list) {
      if (seen.has(d.device_id)) ctx.addIssue({ code: 'custom', message: `device "${d.device_id}" is listed twice` });
      seen.add(d.device_id);
    }
  })
  .transform((list): DeviceConfig[] => list)
  .default([]);

/** Home Assistant's valid_entity_id: lowercase domain and object id, no leading, trailing or double underscores. */
export const HA_ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;
export const HA_SOURCE_KINDS = ['fall', 'help'] as const;

export interface HaSourceConfig {
  entity_id: string;
  kind: (typeof HA_SOURCE_KINDS)[number];
  /** As given, or the entity's object id (binary_sensor.hall_radar_fall: hall_radar_fall). */
  device_id: string;
  person?: string;
  location?: string;
  /** The state that means a fall or a call for help (default on); for event entities, an event_type to match (default: any event). */
  state?: string;
}
/** [{"entity_id", "kind", "device_id"?, "person"?, "location"?, "state"?}] in the add-on options and HA_SOURCES_JSON. */
const haSources = json(
  z.array(
    z.object({
      entity_id: z.string().regex(HA_ENTITY_ID, { error: 'must be a Home Assistant entity id, like binary_sensor.hallway_radar_fall' }),
      kind: z.enum(HA_SOURCE_KINDS, { error: 'kind must be fall or help' }),
      device_id: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      person: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      location: blankIsUnset(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE })),
      state: blankIsUnset(z.string().min(1).max(255)),
    }),
  ),
)
  .transform((list): HaSourceConfig[] => list.map(({ device_id, ...s }) => ({ ...s, device_id: device_id ?? s.entity_id.slice(s.entity_id.indexOf('.') + 1) })))
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    for (const s of list) {
      if (seen.has(s.entity_id)) ctx.addIssue({ code: 'custom', message: `entity "${s.entity_id}" is listed twice` });
      seen.add(s.entity_id);
      if (!SAFE_NAME.test(s.device_id)) ctx.addIssue({ code: 'custom', message: `entity "${s.entity_id}": its object id is too long for a device id; give device_id` });
      // The gateway's own entities turn on for alerts it raised: as sources they would raise them again.
      if (s.entity_id.split('.')[1]!.startsWith('caredian_')) ctx.addIssue({ code: 'custom', message: `entity "${s.entity_id}" is one of the gateway's own entities; list the sensor that detects the fall instead` });
    }
  })
  .default([]);

interface FieldOptions {
  /** Shown as an add-on option in config.yaml. Standalone-only settings are false. */
  addon?: boolean;
  secret?: boolean;
}
const field = <S extends z.ZodType>(schema: S, env: string | string[], o: FieldOptions = {}) => ({
  schema,
  env: typeof env === 'string' ? [env] : env,
  addon: o.addon ?? true,
  secret: o.secret ?? false,
});

export const FIELDS = {
  // listeners and storage
  port: field(int(0, 65535).default(8080), 'PORT', { addon: false }),
  ingress_port: field(int(0, 65535).default(8099), 'INGRESS_PORT', { addon: false }),
  host: field(z.string().default('0.0.0.0'), ['HOST', 'TLS_HOST'], { addon: false }),
  data_dir: field(optionalString(), 'DATA_DIR', { addon: false }),
  admin_token: field(optionalString().refine((v) => v === undefined || v.length >= MIN_SECRET, { error: `must be at least ${MIN_SECRET} characters` }), 'ADMIN_TOKEN', { addon: false, secret: true }),
  // Opens GET /metrics, and nothing else on the admin listener, to a scraper (both modes).
  metrics_token: field(optionalString().refine((v) => v === undefined || v.length >= MIN_SECRET, { error: `must be at least ${MIN_SECRET} characters` }), 'METRICS_TOKEN', { secret: true }),
  // logging and HTTP
  log_level: field(logLevel, 'LOG_LEVEL'),
  log_json: field(bool(false), 'LOG_JSON'),
  allowed_origins: field(stringList().default([]), 'ALLOWED_ORIGINS'),
  // listener limits (both ports; the per-address cap only on the device port)
  max_connections: field(int(1, 100_000).default(4096), 'MAX_CONNECTIONS'),
  max_connections_per_address: field(int(0, 100_000).default(512), 'MAX_CONNECTIONS_PER_ADDRESS'),
  http_headers_timeout_sec: field(num(0.5, 300).default(10), 'HTTP_HEADERS_TIMEOUT_SEC'),
  http_request_timeout_sec: field(num(1, 3600).default(30), 'HTTP_REQUEST_TIMEOUT_SEC'),
  http_keep_alive_timeout_sec: field(num(0.5, 3600).default(65), 'HTTP_KEEP_ALIVE_TIMEOUT_SEC'),
  // processes serving the device port (0: the main process alone; unset: one per core, up to 4, with 4 cores or more)
  ingest_workers: field(int(0, 32).optional(), 'INGEST_WORKERS'),
  // tokens
  jwt_aud: field(z.string().min(1).default('caredian-gw'), 'JWT_AUD'),
  jwt_iss: field(z.string().min(1).default('urn:caredian:gw'), 'JWT_ISS'),
  jwt_ttl_seconds: field(int(60, 7 * 86400).default(43200), 'JWT_TTL_SECONDS'),
  jwt_private_pem_path: field(optionalString(), 'JWT_PRIVATE_PEM_PATH', { addon: false }),
  jwt_public_pem_path: field(optionalString(), 'JWT_PUBLIC_PEM_PATH', { addon: false }),
  cc_clients: field(clients, 'CC_CLIENTS_JSON', { secret: true }),
  api_keys: field(apiKeys, 'API_KEYS_JSON', { secret: true }),
  proxy_upstreams: field(upstreams, 'PROXY_UPSTREAMS_JSON'),
  // TLS on the device port
  tls_cert: field(optionalString(), 'TLS_CERT'),
  tls_key: field(optionalString(), 'TLS_KEY'),
  tls_ca: field(optionalString(), 'TLS_CA'),
  tls_require_client_cert: field(bool(false), 'TLS_REQUIRE_CLIENT_CERT'),
  // InfluxDB 1.x
  influx_url: field(url, 'INFLUX_URL'),
  influx_db: field(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 characters of A-Z a-z 0-9 _ -' }).default('sensors'), 'INFLUX_DB'),
  influx_username: field(optionalString(), 'INFLUX_USERNAME'),
  influx_password: field(optionalString(), 'INFLUX_PASSWORD', { secret: true }),
  influx_timeout_sec: field(num(0.5, 300).default(10), 'INFLUX_TIMEOUT_SEC'),
  influx_verify_tls: field(bool(true), 'INFLUX_VERIFY_TLS'),
  influx_measurement: field(measurement.default('fall_events'), 'INFLUX_MEASUREMENT'),
  influx_create_db: field(bool(true), 'INFLUX_CREATE_DB'),
  // event log and devices
  event_log_max_mb: field(int(1, 100_000).default(256), 'EVENT_LOG_MAX_MB'),
  event_retention_days: field(int(1, 3650).default(30), 'EVENT_RETENTION_DAYS'),
  device_offline_after_sec: field(int(10, 86400).default(600), 'DEVICE_OFFLINE_AFTER_SEC'),
  location_default: field(z.string().regex(SAFE_NAME, { error: SAFE_NAME_RULE }).default('home'), 'LOCATION_DEFAULT'),
  // who wears which device, for messages and entity names ("Grandma Kim may have fallen in the bathroom")
  devices: field(deviceList, 'DEVICES_JSON'),
  // bounds on what devices can make the gateway (and InfluxDB) hold
  max_devices: field(int(1, 100_000).default(500), 'MAX_DEVICES'),
  max_new_devices_per_min: field(int(1, 10_000).default(20), 'MAX_NEW_DEVICES_PER_MIN'),
  max_future_skew_sec: field(int(0, 3600).default(60), 'MAX_FUTURE_SKEW_SEC'),
  imu_state_max_mb: field(int(1, 4096).default(32), 'IMU_STATE_MAX_MB'),
  // Home Assistant
  ha_base_url: field(url, 'HA_BASE_URL', { addon: false }),
  ha_token: field(optionalString(), 'HA_TOKEN', { addon: false, secret: true }),
  // Set by the Supervisor in the add-on container's environment; with it the gateway talks to
  // Home Assistant through the Supervisor's proxy. SUPERVISOR_URL exists for tests only.
  supervisor_token: field(optionalString(), 'SUPERVISOR_TOKEN', { addon: false, secret: true }),
  supervisor_url: field(z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).default('http://supervisor'), 'SUPERVISOR_URL', { addon: false }),
  request_timeout_sec: field(num(0.5, 300).default(10), 'REQUEST_TIMEOUT_SEC'),
  ha_notify_mobile: field(stringList().default([]), 'HA_NOTIFY_MOBILE'),
  // Home Assistant entities that report a fall or a call for help (radars, help buttons): each one alerts like a device.
  ha_sources: field(haSources, 'HA_SOURCES_JSON'),
  // The persistent-notification service ('off' disables); the seed's 'notify.persistent_notification' still works.
  ha_notify_persist: field(z.string().regex(/^(off|[a-z_]+\.[a-z0-9_]+)$/, { error: "must be a service like persistent_notification.create, or 'off'" }).default('persistent_notification.create'), 'HA_NOTIFY_PERSIST'),
  ha_notify_critical: field(bool(true), 'HA_NOTIFY_CRITICAL'),
  escalation_after_sec: field(int(10, 86400).default(300), 'ESCALATION_AFTER_SEC'),
  escalation_targets: field(stringList().default([]), 'ESCALATION_TARGETS'),
  escalation_max_steps: field(int(0, 100).default(3), 'ESCALATION_MAX_STEPS'),
  // the wearer's own say: a window to cancel ("I'm OK"), and stillness after a fall ending it early
  confirm_window_sec: field(int(0, 600).default(30), 'CONFIRM_WINDOW_SEC'),
  still_after_fall_sec: field(int(5, 600).default(20), 'STILL_AFTER_FALL_SEC'),
  // alert sinks beside Home Assistant
  alert_webhooks: field(webhooks, 'ALERT_WEBHOOKS_JSON', { secret: true }),
  // MQTT: real Home Assistant devices through MQTT discovery. As an add-on the Supervisor names the
  // broker (services: mqtt:want); standalone, MQTT_URL does.
  mqtt_url: field(mqttUrl, 'MQTT_URL', { addon: false }),
  mqtt_username: field(optionalString(), 'MQTT_USERNAME', { addon: false }),
  mqtt_password: field(optionalString(), 'MQTT_PASSWORD', { addon: false, secret: true }),
  mqtt_discovery: field(bool(true), 'MQTT_DISCOVERY'),
  mqtt_base_topic: field(topicLevel.default('caredian'), 'MQTT_BASE_TOPIC'),
  mqtt_discovery_prefix: field(topicLevel.default('homeassistant'), 'MQTT_DISCOVERY_PREFIX'),
  // Devices publishing fall reports, heartbeats and IMU chunks to <base>/<device_id>/... (listed devices only).
  mqtt_ingest: field(bool(false), 'MQTT_INGEST'),
  // fall inference
  fall_inference_enabled: field(bool(true), 'FALL_INFERENCE_ENABLED'),
  fall_model_path: field(optionalString(), 'FALL_MODEL_PATH', { addon: false }),
  fall_meta_path: field(optionalString(), 'FALL_META_PATH', { addon: false }),
  fall_threshold: field(num(0, 1).optional(), 'FALL_THRESHOLD'),
  fall_smooth_k: field(int(1, 100).optional(), 'FALL_SMOOTH_K'),
  fall_ai_sustain_k: field(int(1, 100).optional(), 'FALL_AI_SUSTAIN_K'),
  fall_seq_len: field(int(1, 100).optional(), 'FALL_SEQ_LEN'),
  fall_cooldown_sec: field(int(0, 86400).default(300), 'FALL_COOLDOWN_SEC'),
  fall_decision_mode: field(decisionMode.default('sensor_or_model'), 'FALL_DECISION_MODE'),
  // sensor_and_model: how close in time the device's report and the model's decision must be.
  fall_and_window_sec: field(int(1, 120).default(10), 'FALL_AND_WINDOW_SEC'),
};

export type FieldName = keyof typeof FIELDS;
type Shape = { [K in FieldName]: (typeof FIELDS)[K]['schema'] };

export const ConfigSchema = z.object(
  Object.fromEntries(Object.entries(FIELDS).map(([k, f]) => [k, f.schema])) as Shape,
);

export type RawConfig = z.output<typeof ConfigSchema>;
/** The loaded configuration: the schema's output plus what the loader decides (mode, data dir). */
export type Config = Omit<RawConfig, 'data_dir'> & { data_dir: string; mode: 'addon' | 'standalone' };
