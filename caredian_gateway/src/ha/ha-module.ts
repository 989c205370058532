// Home Assistant as one feature: the connection, the alert sink (events, phone notifications,
// persistent notification), the device entities, and acknowledgements from phone actions.
import type { HassEvent } from 'home-assistant-js-websocket';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import { notConfigured, type GatewayModule, type ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import type { DeviceState } from '../domain/devices.js';
import { AlertService } from '../alerting/alert-service.js';
import { HaClient, haEndpoints } from './ha-client.js';
import { ACK_ACTION, HaAlertSink, ON_MY_WAY_ACTION } from './ha-alert-sink.js';
import { HaEntities } from './ha-entities.js';
import { HaUserNames } from './ha-users.js';

export interface HaModuleDeps {
  config: Config;
  log: Logger;
  bus: GatewayBus;
  devices: () => DeviceState[];
  /** Whether devices reach Home Assistant through MQTT discovery (known once MQTT has started). */
  mqttDiscovery?: () => boolean;
}

const REST_FALLBACK = 'plain entity states (no MQTT broker: no device page, no renaming or areas, no Acknowledge button; Home Assistant forgets them when it restarts until the gateway sets them again). Install the Mosquitto broker add-on for real devices.';

export class HomeAssistantModule implements GatewayModule {
  readonly name = 'home_assistant';
  readonly sink: HaAlertSink;
  readonly entities: HaEntities;
  private readonly users: HaUserNames;

  /** Undefined when neither the Supervisor nor HA_BASE_URL + HA_TOKEN give a Home Assistant. */
  static fromConfig(d: HaModuleDeps): HomeAssistantModule | undefined {
    const ep = haEndpoints(d.config);
    if (!ep) return undefined;
    return new HomeAssistantModule(new HaClient(ep, d.log.child({ module: 'home_assistant' }), { requestTimeoutMs: d.config.request_timeout_sec * 1000 }), d);
  }

  constructor(
    readonly client: HaClient,
    private readonly d: HaModuleDeps,
  ) {
    const c = d.config;
    const log = d.log.child({ module: 'home_assistant' });
    this.sink = new HaAlertSink(client, { notifyTargets: c.ha_notify_mobile, persist: c.ha_notify_persist, critical: c.ha_notify_critical, escalationTiers: AlertService.settings(c).escalationTiers, devices: c.devices, locationDefault: c.location_default });
    this.entities = new HaEntities(client, d.bus, d.devices, log, c.devices);
    this.users = new HaUserNames(client, log);
  }

  private restEntities = false;

  async start(): Promise<void> {
    // With MQTT discovery the devices are real Home Assistant devices; plain states would clash with them.
    this.restEntities = !this.d.mqttDiscovery?.();
    if (this.restEntities) this.entities.start();
    this.client.subscribe('mobile_app_notification_action', (e) => void this.onAction(e));
    await this.client.start();
  }

  async stop(): Promise<void> {
    if (this.restEntities) this.entities.stop();
    await this.client.stop();
  }

  status(): ModuleStatus {
    const s = this.client.status();
    const entities = this.restEntities ? REST_FALLBACK : 'devices and entities through MQTT discovery';
    return { ...s, entities: this.restEntities ? 'rest' : 'mqtt', detail: `${s.detail ?? ''}; entities: ${entities}` };
  }

  /** A button on a phone notification: the companion app fires the event as the phone's user. */
  private async onAction(e: HassEvent): Promise<void> {
    const action = String((e.data as { action?: unknown }).action ?? '');
    const prefix = [ACK_ACTION, ON_MY_WAY_ACTION].find((p) => action.startsWith(p));
    if (!prefix) return;
    const by = await this.users.nameOf((e.context as { user_id?: string | null } | undefined)?.user_id);
    this.d.bus.emit('alert.ack_request', { id: action.slice(prefix.length), by: prefix === ON_MY_WAY_ACTION ? `${by} (on the way)` : by });
  }
}

/**
 * What stands in for Home Assistant when there is no connection to make. As an add-on that means
 * the service was started without the container environment (no SUPERVISOR_TOKEN): say so loudly.
 */
export function homeAssistantAbsent(c: Config): GatewayModule {
  if (c.mode !== 'addon') return notConfigured('home_assistant');
  const detail = "no SUPERVISOR_TOKEN in the add-on's environment (the service must start through with-contenv)";
  return { name: 'home_assistant', start: async () => {}, stop: async () => {}, status: () => ({ ready: true, detail, warning: `Home Assistant unreachable: ${detail}` }) };
}
