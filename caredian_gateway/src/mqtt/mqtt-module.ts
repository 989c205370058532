// The gateway's one connection to the MQTT broker, shared by what publishes (Home Assistant
// discovery) and what listens (acknowledge buttons; device inputs). Its last will marks the
// gateway offline, so Home Assistant shows every entity unavailable when the gateway dies.
import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import { findBroker, type BrokerSettings } from './broker-settings.js';
import { topicMatches } from './topic-match.js';

export type MessageHandler = (topic: string, payload: Buffer) => void;
/** Resolves once the message is safe (on disk); a rejection leaves it unacknowledged. */
export type DurableHandler = (topic: string, payload: Buffer, meta: { retain: boolean }) => Promise<void>;

export interface PublishOptions {
  retain?: boolean;
  qos?: 0 | 1;
}

type State = 'not_configured' | 'connecting' | 'connected' | 'disconnected';

export class MqttModule implements GatewayModule {
  readonly name = 'mqtt';
  private client?: MqttClient;
  private broker?: BrokerSettings;
  private state: State = 'connecting';
  private why = '';
  private lastError?: string;
  private handlers: { filter: string; fn: MessageHandler }[] = [];
  private durable: { filter: string; fn: DurableHandler }[] = [];
  private connectListeners: (() => void)[] = [];
  readonly availabilityTopic: string;
  readonly clientId: string;

  constructor(
    private readonly c: Config,
    private readonly log: Logger,
  ) {
    this.availabilityTopic = `${c.mqtt_base_topic}/gateway/availability`;
    // Stable per installation: a persistent session survives gateway restarts.
    this.clientId = `caredian-gateway-${createHash('sha256').update(c.data_dir).digest('hex').slice(0, 8)}`;
  }

  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Whether a broker is configured (connected or not). */
  get configured(): boolean {
    return this.state !== 'not_configured';
  }

  async start(): Promise<void> {
    const found = await findBroker(this.c);
    if (!found.ok) {
      this.state = 'not_configured';
      this.why = found.why;
      this.log.info({ reason: found.why }, 'MQTT not used: Home Assistant entities fall back to plain states');
      return;
    }
    this.broker = found.broker;
    // Loaded only with a broker to talk to: mqtt.js is some 15 MB of memory a gateway without one does not need.
    const { default: mqtt } = await import('mqtt');
    const client = mqtt.connect(found.broker.url, {
      clientId: this.clientId,
      username: found.broker.username,
      password: found.broker.password,
      clean: false,
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
      will: { topic: this.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    // mqtt.js sends a QoS 1 message's PUBACK only once handleMessage calls back, and reads the next
    // message only then (MQTT 3.1.1 too; customHandleAcks would need MQTT 5, whose sessions end at
    // disconnect unless an expiry is set).
    client.handleMessage = (packet, done) => void this.handleDurable(packet.topic, packet.payload, packet.retain, done);
    client.on('connect', () => {
      this.state = 'connected';
      this.lastError = undefined;
      this.log.info({ broker: redact(found.broker.url), from: found.broker.from }, 'MQTT connected');
      void this.publish(this.availabilityTopic, 'online', { retain: true }).catch(() => {});
      for (const f of this.connectListeners) f();
    });
    client.on('close', () => {
      if (this.state === 'connected') this.log.warn({ broker: redact(found.broker.url) }, 'MQTT connection lost; reconnecting');
      if (this.state !== 'not_configured') this.state = 'disconnected';
    });
    client.on('error', (err) => {
      if (this.lastError !== err.message) this.log.error({ reason: err.message }, 'MQTT error');
      this.lastError = err.message;
    });
    client.on('message', (topic, payload) => {
      for (const h of this.handlers) {
        if (!topicMatches(h.filter, topic)) continue;
        try {
          h.fn(topic, payload);
        } catch (err) {
          this.log.error({ err, topic }, 'MQTT message handler failed');
        }
      }
    });
  }

  async stop(): Promise<void> {
    const client = this.client;
    if (!client) return;
    this.client = undefined;
    // A clean stop: the gateway is not running, so its entities are unavailable.
    if (client.connected) await client.publishAsync(this.availabilityTopic, 'offline', { qos: 1, retain: true }).catch(() => {});
    await client.endAsync().catch(() => {});
    this.state = 'disconnected';
  }

  status(): ModuleStatus {
    if (this.state === 'not_configured') return { ready: true, state: this.state, detail: `not used: ${this.why}` };
    const where = this.broker ? `${redact(this.broker.url)} (from ${this.broker.from})` : '';
    if (this.state === 'connected') return { ready: true, state: this.state, detail: `connected to ${where}` };
    return { ready: true, state: this.state, detail: `${this.state}: ${where}${this.lastError ? ` (${this.lastError})` : ''}`, warning: `MQTT broker unreachable (${where}${this.lastError ? `: ${this.lastError}` : ''}): Home Assistant devices are not updated` };
  }

  /** Runs on every (re)connect, and now if connected. */
  onConnect(fn: () => void): void {
    this.connectListeners.push(fn);
    if (this.connected) fn();
  }

  /** Resolves when the broker has the message (QoS 1: PUBACK). Rejects when not connected. */
  async publish(topic: string, payload: string | Buffer, o: PublishOptions = {}): Promise<void> {
    const client = this.client;
    if (!client || !client.connected) throw new Error('MQTT broker not connected');
    await client.publishAsync(topic, payload, { qos: o.qos ?? 1, retain: o.retain ?? false });
  }

  /**
   * Like subscribe, for messages that must not be lost: the broker hears the message was received
   * (QoS 1 PUBACK) only after `fn` resolves, and the next message is handled only then. When `fn`
   * rejects the message stays unacknowledged: the broker delivers it again after a reconnect, and
   * the persistent session keeps what arrives while the gateway is away.
   */
  subscribeDurable(filter: string, fn: DurableHandler): void {
    this.durable.push({ filter, fn });
    this.onConnect(() => this.client?.subscribe(filter, { qos: 1 }));
  }

  private async handleDurable(topic: string, payload: Buffer | string, retain: boolean, done: (err?: Error) => void): Promise<void> {
    try {
      for (const h of this.durable) if (topicMatches(h.filter, topic)) await h.fn(topic, Buffer.isBuffer(payload) ? payload : Buffer.from(payload), { retain });
      done();
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** Subscribes now if connected; the persistent session (and mqtt.js) keep it across reconnects. */
  subscribe(filter: string, fn: MessageHandler): void {
    this.handlers.push({ filter, fn });
    const sub = () => this.client?.subscribe(filter, { qos: 1 });
    this.onConnect(sub);
  }
}

function redact(u: string): string {
  const x = new URL(u);
  return `${x.protocol}//${x.host}`;
}
