// Home Assistant as one feature: the connection, the alert sink (events, phone notifications,
// persistent notification), the device entities, and acknowledgements from phone actions.
import type { HassEvent } from 'home-assistant-js-websocket';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { GatewayBus } from '../domain/bus-events.js';
import type { DeviceState } from '../domain/devices.js';
import { HaClient, haEndpoints } from './ha-client.js';
import { ACK_ACTION, HaAlertSink, ON_MY_WAY_ACTION } from './ha-alert-sink.js';
import { HaEntities } from './ha-entities.js';

export interface HaModuleDeps {
  config: Config;
  log: Logger;
  bus: GatewayBus;
  devices: () => DeviceState[];
}

export class HomeAssistantModule implements GatewayModule {
  readonly name = 'home_assistant';
  readonly sink: HaAlertSink;
  readonly entities: HaEntities;

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
    this.sink = new HaAlertSink(client, { notifyTargets: c.ha_notify_mobile, persist: c.ha_notify_persist, critical: c.ha_notify_critical });
    this.entities = new HaEntities(client, d.bus, d.devices, d.log.child({ module: 'home_assistant' }));
  }

  async start(): Promise<void> {
    this.entities.start();
    this.client.subscribe('mobile_app_notification_action', (e) => this.onAction(e));
    await this.client.start();
  }

  async stop(): Promise<void> {
    this.entities.stop();
    await this.client.stop();
  }

  status(): ModuleStatus {
    return this.client.status();
  }

  private onAction(e: HassEvent): void {
    const action = String((e.data as { action?: unknown }).action ?? '');
    const by = (e.context as { user_id?: string | null } | undefined)?.user_id ?? 'mobile_app';
    for (const prefix of [ACK_ACTION, ON_MY_WAY_ACTION]) {
      if (!action.startsWith(prefix)) continue;
      this.d.bus.emit('alert.ack_request', { id: action.slice(prefix.length), by: prefix === ON_MY_WAY_ACTION ? `${by} (on the way)` : by });
    }
  }
}
