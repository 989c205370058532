// Shared by the device-input tests: an MQTT client that records what it hears, the documented
// Mosquitto ACL, and reading the event log. (The webhook receiver is in test/support/.)
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { StoredEvent } from '../../src/domain/records.js';
import { EventLog } from '../../src/events/event-log.js';

/** An MQTT client (a device, or someone watching) that keeps every message it receives. */
export class MqttPeer {
  all: { topic: string; payload: string }[] = [];
  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, p) => this.all.push({ topic, payload: p.toString() }));
  }
  static async connect(url: string, o: IClientOptions, subscribe: string[] = []): Promise<MqttPeer> {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 500, clientId: `${o.username ?? 'peer'}-${Math.random().toString(16).slice(2)}`, ...o });
    const peer = new MqttPeer(client);
    if (subscribe.length) await client.subscribeAsync(subscribe, { qos: 1 });
    return peer;
  }
  on(topic: string): Record<string, unknown>[] {
    return this.all.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload) as Record<string, unknown>);
  }
  publish(topic: string, body: unknown, o: { retain?: boolean } = {}): Promise<unknown> {
    return this.client.publishAsync(topic, typeof body === 'string' ? body : JSON.stringify(body), { qos: 1, retain: o.retain ?? false });
  }
  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * The ACL DOCS.md gives for the Mosquitto broker add-on: `addons` (the gateway, as an add-on) and
 * `homeassistant` may do anything, as the add-on requires; every device (its MQTT user name is its
 * device id) publishes only under its own id and reads only its own answers.
 */
export const DOCUMENTED_ACL = [
  'user addons',
  'topic readwrite #',
  '',
  'user homeassistant',
  'topic readwrite #',
  '',
  'pattern write caredian/%u/fall',
  'pattern write caredian/%u/heartbeat',
  'pattern write caredian/%u/imu',
  'pattern write caredian/%u/cancel',
  'pattern read caredian/%u/error',
  'pattern read caredian/%u/alert',
];

/** Every record in a gateway's event log (the gateway must be stopped). */
export async function readEventLog(dataDir: string): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  const log = new EventLog({ dir: `${dataDir}/eventlog`, maxBytes: 1 << 30 });
  await log.open((r) => out.push(r));
  await log.close();
  return out;
}
