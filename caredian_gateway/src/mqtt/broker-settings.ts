// Where the MQTT broker is: MQTT_URL (+ MQTT_USERNAME/MQTT_PASSWORD) standalone, or, as an add-on,
// what the Supervisor's services API says (the Mosquitto broker add-on registers itself there;
// config.yaml asks for it with `services: [mqtt:want]`).
import type { Config } from '../config/schema.js';

export interface BrokerSettings {
  url: string;
  username?: string;
  password?: string;
  /** Where the settings came from, for the status page. */
  from: 'MQTT_URL' | 'supervisor';
}

export type BrokerLookup = { ok: true; broker: BrokerSettings } | { ok: false; why: string };

interface SupervisorMqtt {
  host: string;
  port: number;
  ssl?: boolean;
  username?: string;
  password?: string;
}

export async function findBroker(c: Config, timeoutMs = 5000): Promise<BrokerLookup> {
  if (!c.mqtt_discovery) return { ok: false, why: 'MQTT discovery is turned off (mqtt_discovery)' };
  if (c.mqtt_url) return { ok: true, broker: { url: c.mqtt_url, username: c.mqtt_username, password: c.mqtt_password, from: 'MQTT_URL' } };
  if (!c.supervisor_token) return { ok: false, why: 'no MQTT broker configured (MQTT_URL)' };
  try {
    const r = await fetch(`${c.supervisor_url}/services/mqtt`, { headers: { Authorization: `Bearer ${c.supervisor_token}` }, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await r.json().catch(() => ({}))) as { result?: string; data?: SupervisorMqtt; message?: string };
    if (r.status !== 200 || body.result !== 'ok' || !body.data?.host) return { ok: false, why: `no MQTT broker add-on found (the Supervisor answered ${r.status}${body.message ? `: ${body.message}` : ''}); install the Mosquitto broker add-on` };
    const d = body.data;
    return { ok: true, broker: { url: `${d.ssl ? 'mqtts' : 'mqtt'}://${d.host}:${d.port}`, username: d.username, password: d.password, from: 'supervisor' } };
  } catch (err) {
    return { ok: false, why: `the Supervisor's services API could not be reached (${(err as Error).message})` };
  }
}
