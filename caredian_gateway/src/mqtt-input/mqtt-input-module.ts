// Devices over MQTT (mqtt_ingest): fall reports, heartbeats and IMU chunks published on
// <base>/<device_id>/fall, /heartbeat and /imu go through the ingest core like HTTP requests. The
// broker's ACL is the authentication boundary; the gateway accepts only the devices the `devices`
// option lists. A message is acknowledged to the broker only once it is on disk (the shared
// connection's durable subscriptions, one message at a time), so a gateway killed mid-stream
// loses nothing the broker accepted: the persistent session delivers the rest, and what was
// stored but not yet acknowledged comes again and is stored once (its event_id).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { IngestCore } from '../ingest/ingest-core.js';
import type { DeviceIdentity, Outcome } from '../ingest/outcomes.js';
import type { MqttModule } from '../mqtt/mqtt-module.js';
import { errorTopic, inputFilters, LIMIT_BYTES, parseInputTopic, type InputKind } from './device-topics.js';
import { toMqtt, type MqttError } from './outcome-mqtt.js';
import { RejectionLog } from './rejection-log.js';

export interface MqttInputDeps {
  mqtt: MqttModule;
  ingest: IngestCore;
  /** mqtt_ingest */
  enabled: boolean;
  /** mqtt_base_topic */
  base: string;
  log: Logger;
}

/** Who speaks over MQTT: the ingest core lets it speak for the devices the `devices` option lists. */
const MQTT_IDENTITY: DeviceIdentity = { clientId: 'mqtt', via: 'mqtt' };

type Checked = { body: Record<string, unknown> } | { reason: MqttError };

export class MqttInputModule implements GatewayModule {
  readonly name = 'mqtt_input';
  private stopping = new AbortController();
  private counts = { received: 0, stored: 0, duplicates: 0, rejected: 0 };
  private lastRejection?: { topic: string; error: string; at: string };
  /** Why messages are being held (storage full or failing), while they are. */
  private waiting?: string;
  private readonly rejections: RejectionLog;

  constructor(private readonly d: MqttInputDeps) {
    this.rejections = new RejectionLog(d.log);
  }

  async start(): Promise<void> {
    if (!this.d.enabled) return;
    if (!this.d.mqtt.configured) {
      this.d.log.warn({ reason: this.d.mqtt.status().detail }, 'mqtt_ingest is on, but there is no MQTT broker: devices publishing over MQTT are not heard');
      return;
    }
    this.stopping = new AbortController();
    for (const f of inputFilters(this.d.base)) this.d.mqtt.subscribeDurable(f, (topic, payload, meta) => this.guarded(topic, payload, meta.retain));
    this.d.log.info({ topics: inputFilters(this.d.base) }, 'MQTT device input listening');
  }

  async stop(): Promise<void> {
    // A message being held is left unacknowledged: the broker keeps it for the next start.
    this.stopping.abort();
  }

  status(): ModuleStatus {
    if (!this.d.enabled) return { ready: true, mode: 'off', detail: 'off (mqtt_ingest)' };
    if (!this.d.mqtt.configured) return { ready: true, mode: 'on', detail: 'no MQTT broker', warning: `mqtt_ingest is on, but MQTT is ${this.d.mqtt.status().detail ?? 'not used'}: devices publishing over MQTT are not heard` };
    const c = this.counts;
    const detail = this.waiting ? `holding messages: ${this.waiting}` : `${c.stored} stored, ${c.duplicates} duplicates, ${c.rejected} rejected`;
    return { ready: true, mode: 'on', topics: inputFilters(this.d.base), ...c, ...(this.lastRejection ? { last_rejection: this.lastRejection } : {}), ...(this.waiting ? { waiting: this.waiting } : {}), detail };
  }

  /** A failure leaves the message unacknowledged (the broker delivers it again after a reconnect): say why. */
  private async guarded(topic: string, payload: Buffer, retain: boolean): Promise<void> {
    try {
      await this.onMessage(topic, payload, retain);
    } catch (err) {
      if (!this.stopping.signal.aborted) this.d.log.error({ err, topic }, 'MQTT message could not be handled; left for the broker to deliver again');
      throw err;
    }
  }

  private async onMessage(topic: string, payload: Buffer, retain: boolean): Promise<void> {
    const at = parseInputTopic(this.d.base, topic);
    // An empty payload clears a retained message: nothing was sent.
    if (!at || payload.length === 0) return;
    this.counts.received++;
    const checked = check(at.deviceId, at.kind, payload);
    if (retain) {
      // The broker's retained copy, sent again because the gateway subscribed again (a live retained
      // message arrives unflagged and is stored once): it would come back on every reconnect, so it
      // is removed from the broker, not stored.
      void this.d.mqtt.publish(topic, '', { retain: true }).catch(() => {});
      const reason = { error: 'retained_not_accepted', error_description: 'a retained message comes back on every reconnect and is not accepted: publish with retain false' };
      return this.reject(at.deviceId, topic, reason, 'body' in checked ? checked.body.event_id : undefined);
    }
    if ('reason' in checked) return this.reject(at.deviceId, topic, checked.reason);
    for (;;) {
      if (this.stopping.signal.aborted) throw new Error('stopping: the message is left for the broker to deliver again');
      const answer = toMqtt(await this.call(at.kind, checked.body));
      if (answer.kind !== 'retry') {
        if (this.waiting) this.d.log.info('MQTT device input resumed');
        this.waiting = undefined;
      }
      if (answer.kind === 'ok') {
        if (answer.duplicate) this.counts.duplicates++;
        else this.counts.stored++;
        return;
      }
      if (answer.kind === 'reject') return this.reject(at.deviceId, topic, answer.reason, checked.body.event_id);
      if (!this.waiting) this.d.log.warn({ reason: answer.why, retry_after_s: answer.afterSec }, 'MQTT device input holding messages until they can be stored (the broker keeps them)');
      this.waiting = answer.why;
      await sleep(answer.afterSec * 1000, undefined, { signal: this.stopping.signal }).catch(() => {});
    }
  }

  private call(kind: InputKind, body: Record<string, unknown>): Promise<Outcome<unknown>> {
    const core = this.d.ingest;
    if (kind === 'fall') return core.reportFall(MQTT_IDENTITY, body);
    if (kind === 'heartbeat') return core.heartbeat(MQTT_IDENTITY, body);
    return core.imuChunk(MQTT_IDENTITY, body);
  }

  private reject(deviceId: string, topic: string, reason: MqttError, eventId?: unknown): void {
    this.counts.rejected++;
    this.lastRejection = { topic, error: reason.error, at: new Date().toISOString() };
    this.rejections.note({ topic, error: reason.error, reason: reason.error_description });
    const answer = { ok: false, ...reason, topic, ...(typeof eventId === 'string' ? { event_id: eventId } : {}) };
    void this.d.mqtt.publish(errorTopic(this.d.base, deviceId), JSON.stringify(answer), { qos: 1 }).catch(() => {});
  }
}

/** What the transport itself checks: size, JSON, and that the body speaks for the topic's device. */
function check(deviceId: string, kind: InputKind, payload: Buffer): Checked {
  if (payload.length > LIMIT_BYTES[kind]) return { reason: { error: 'payload_too_large', error_description: `a ${kind} message is at most ${LIMIT_BYTES[kind]} bytes` } };
  let body: unknown;
  try {
    body = JSON.parse(payload.toString('utf8'));
  } catch {
    return { reason: invalid('the payload is not valid JSON') };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { reason: invalid('the payload must be a JSON object') };
  const b = body as Record<string, unknown>;
  // The topic names the device; the body may leave device_id out, but may not name another.
  if (b.device_id === undefined) return { body: { ...b, device_id: deviceId } };
  if (b.device_id !== deviceId) return { reason: invalid(`device_id: "${String(b.device_id).slice(0, 64)}" is not the topic's device "${deviceId}"`) };
  return { body: b };
}

const invalid = (problem: string): MqttError => ({ error: 'invalid_request', error_description: problem, problems: [problem] });
