// The composition root: lists the modules, in start order, with what each is handed. Everything
// else (routes, docs, readiness checks, timers) the modules contribute themselves.
import { mkdirSync } from 'node:fs';
import type { Config } from './config/schema.js';
import type { Logger } from './core/logger.js';
import type { GatewayModule } from './core/module.js';
import { VERSION } from './core/version.js';
import { GatewayBus } from './domain/bus-events.js';
import { StorageModule } from './events/storage-module.js';
import { AuthModule } from './auth/auth-module.js';
import type { TokenRouteOptions } from './auth/token-route.js';
import { DeviceRegistry } from './devices/registry.js';
import { FallInferenceModule } from './inference/inference-module.js';
import { StillnessWatcher } from './inference/stillness.js';
import { createInfluxClient } from './influx/client.js';
import { InfluxModule } from './influx/influx-module.js';
import { MetricsModule } from './metrics/metrics-module.js';
import { nameProcess } from './metrics/registry.js';
import { IngestCore } from './ingest/ingest-core.js';
import { DeviceApiModule } from './device-api/device-api-module.js';
import { AlertCancelModule } from './device-api/alert-cancel.js';
import { HomeAssistantModule, homeAssistantAbsent } from './ha/ha-module.js';
import { webhookSinks } from './webhooks/webhook-sinks.js';
import { MqttModule } from './mqtt/mqtt-module.js';
import { HaDiscoveryModule } from './ha-discovery/discovery-module.js';
import { MqttInputModule } from './mqtt-input/mqtt-input-module.js';
import { HaSourcesModule } from './ha-sources/ha-sources-module.js';
import { withSourceDevices } from './ha-sources/source-devices.js';
import { AlertService } from './alerting/alert-service.js';
import type { AlertView } from './domain/alerts.js';
import { describeDevice } from './domain/people.js';
import { ProxyModule } from './proxy/proxy-module.js';
import { createAdminApp } from './admin/admin-app.js';
import { StatusPageModule } from './admin/status-page.js';
import { adminToken } from './admin/admin-token.js';
import { Readiness } from './http/readiness.js';
import { Servers } from './http/servers.js';
import { WorkerPool } from './cluster/worker-pool.js';
import { relaySocketPath } from './cluster/relay-socket.js';

export interface GatewayOptions {
  tokenRoute?: TokenRouteOptions;
  /** Worker processes serving the device port (main.ts; 0 or unset: this process serves it). */
  deviceWorkers?: number;
}

export class Gateway {
  readonly readiness = new Readiness();
  readonly servers: Servers;
  private readonly startedAt = Date.now();

  static async create(options: Config, log: Logger, o: GatewayOptions = {}): Promise<Gateway> {
    // ha_sources describe their devices (person, location) as the devices option does; MQTT still
    // accepts only the devices that option lists (IngestCore.settings of the options as given).
    const c = withSourceDevices(options);
    mkdirSync(c.data_dir, { recursive: true, mode: 0o700 });
    const bus = new GatewayBus(log);
    const influx = await createInfluxClient(c);
    const storage = new StorageModule(c, bus, log, influx);
    const auth = await AuthModule.create(c, log, o.tokenRoute);
    const devices = new DeviceRegistry(c.data_dir, bus, log.child({ module: 'devices' }), c.device_offline_after_sec * 1000);
    const inference = new FallInferenceModule(c, log.child({ module: 'inference' }), bus);
    const stillness = new StillnessWatcher(bus, { stillAfterSec: c.still_after_fall_sec }, log.child({ module: 'stillness' }));
    const ingest = new IngestCore({ store: storage.store, inference, known: devices, placements: devices, settings: IngestCore.settings(options), log, alertFor: (id, device) => alerts.briefFor(id, device), motion: stillness });
    const mqtt = new MqttModule(c, log.child({ module: 'mqtt' }));
    const ha = HomeAssistantModule.fromConfig({ config: c, log, bus, devices: () => devices.list(), mqttDiscovery: () => mqtt.configured });
    const holder: { gw?: Gateway } = {};
    const discovery: HaDiscoveryModule = new HaDiscoveryModule({ mqtt, bus, log: log.child({ module: 'ha_discovery' }), prefix: c.mqtt_discovery_prefix, base: c.mqtt_base_topic, devices: () => devices.list(), alerts: (): AlertView[] => alerts.list(), gatewayState: () => holder.gw!.readiness.evaluate(), describe: (id) => describeDevice(c.devices, id) });
    const sinks = [...(ha ? [ha.sink] : []), ...webhookSinks(c), discovery.sink];
    const alerts = new AlertService(c.data_dir, bus, storage.store, sinks, AlertService.settings(c), log.child({ module: 'alerts' }));
    const influxSink = new InfluxModule(c, storage.store, storage.dir, log, influx);
    const modules: GatewayModule[] = [
      storage,
      influxSink,
      auth,
      inference,
      stillness,
      mqtt,
      ha ?? homeAssistantAbsent(c),
      discovery,
      alerts,
      devices,
      ingest,
      new DeviceApiModule(ingest, auth.tokens, log),
      new MqttInputModule({ mqtt, ingest, enabled: c.mqtt_ingest, base: c.mqtt_base_topic, log: log.child({ module: 'mqtt_input' }) }),
      new HaSourcesModule({ client: ha?.client, sources: c.ha_sources, ingest, presence: devices, dataDir: c.data_dir, log: log.child({ module: 'ha_sources' }), offlineAfterMs: c.device_offline_after_sec * 1000 }),
      new AlertCancelModule({ tokens: auth.tokens, alerts, owns: (client, device) => ingest.owns(client, device) }),
      new ProxyModule(c, storage.store, log, influx),
      new StatusPageModule({ bus, log: log.child({ module: 'page' }), status: () => holder.gw!.statusReport(), alert: (id) => alerts.get(id), motion: (id) => inference.motionOf(id), devices: c.devices }),
      new MetricsModule({ ingest, store: storage.store, alerts, influx: influxSink.writer, model: inference }),
    ];
    const metrics = modules.find((m): m is MetricsModule => m instanceof MetricsModule)!;
    const deviceApi = modules.find((m): m is DeviceApiModule => m instanceof DeviceApiModule)!;
    deviceApi.observeRefusals(metrics.onHttpRefused);
    const workers = o.deviceWorkers ?? 0;
    const pool = workers > 0 ? new WorkerPool({ count: workers, socketPath: relaySocketPath(c.data_dir), endpoints: deviceApi.endpoints, log: log.child({ module: 'workers' }) }) : undefined;
    if (pool) {
      nameProcess('primary');
      metrics.includeProcesses(() => pool.metrics());
    }
    return (holder.gw = new Gateway(c, log, bus, modules, pool));
  }

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly bus: GatewayBus,
    readonly modules: GatewayModule[],
    private readonly pool?: WorkerPool,
  ) {
    for (const m of modules) this.readiness.addModule(m);
    // Not in the module list: it starts after the listeners (servers.start) and stops before them.
    if (pool) this.readiness.addModule(pool);
    const token = adminToken(config, log);
    const adminApp = createAdminApp({ log, mode: config.mode, adminToken: token, metricsToken: config.metrics_token, status: () => this.statusReport(), routers: modules.flatMap((m) => m.adminRoutes?.() ?? []), rootRoutes: modules.flatMap((m) => m.adminRootRoutes?.() ?? []) });
    this.servers = new Servers(config, modules, this.readiness, adminApp, VERSION, log, pool?.socketPath);
  }

  /** A module by its class, for tests and tools (`gw.module(AlertService)`). */
  module<T extends GatewayModule>(type: { prototype: T }): T | undefined {
    return this.modules.find((m): m is T => Object.prototype.isPrototypeOf.call(type.prototype, m));
  }

  get store() {
    return this.module(StorageModule)!.store;
  }

  statusReport(): Record<string, unknown> {
    const r = this.readiness.evaluate();
    const s = this.store;
    return { version: VERSION, mode: this.config.mode, uptime_s: (Date.now() - this.startedAt) / 1000, ready: r.ready, status: r.status, warnings: r.warnings, checks: r.checks, storage: { data_dir: this.config.data_dir, log_bytes: s.sizeBytes, last_seq: s.lastCommittedSeq } };
  }

  async start(): Promise<void> {
    for (const m of this.modules) await m.start();
    await this.servers.start();
    await this.pool?.start();
    const c = this.config;
    const tls = this.servers.tls;
    this.log.info({ version: VERSION, mode: c.mode, device_port: this.devicePort, tls: Boolean(tls), mtls: Boolean(tls?.requireClientCert), admin_port: this.adminPort, influx: c.influx_url ? 'configured' : 'embedded event log', data_dir: c.data_dir }, 'CareDian Gateway started');
  }

  get devicePort(): number {
    return this.pool?.port ?? this.servers.devicePort;
  }

  get adminPort(): number {
    return this.servers.adminPort;
  }

  async stop(): Promise<void> {
    this.module(StatusPageModule)?.closeStreams();
    await this.pool?.stop();
    await this.servers.stop();
    for (const m of [...this.modules].reverse()) await m.stop();
  }
}
