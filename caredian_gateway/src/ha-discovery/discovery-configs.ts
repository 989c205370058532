// Home Assistant MQTT discovery configs: one HA device per wearable or sensor, and the gateway as
// a device of its own. Entities have unique_ids (users can rename them, give them areas, find a
// device page) and default entity ids that match the REST fallback's (binary_sensor.caredian_<slug>_fall).
// Reference: Home Assistant's MQTT integration docs ("MQTT Discovery", and each platform's page).
import { VERSION } from '../core/version.js';

export interface DeviceInfo {
  device_id: string;
  slug: string;
  /** Shown in Home Assistant: the `devices` option's name, or the device id. */
  name: string;
  model?: string;
  fw?: string;
  area?: string;
}

export interface DiscoveryTopics {
  prefix: string;
  base: string;
  availability: string;
}

export interface DiscoveryConfig {
  topic: string;
  payload: Record<string, unknown>;
}

export const GATEWAY_IDENTIFIER = 'caredian_gateway';
export const EVENT_TYPES = ['fall_pending', 'fall_cancelled', 'fall_detected', 'fall_escalated', 'fall_acknowledged'] as const;

const ORIGIN = { name: 'CareDian Gateway', sw_version: VERSION, support_url: 'https://github.com/caredian/caredian-gateway' };

export const deviceTopics = (t: DiscoveryTopics, deviceId: string) => ({
  state: `${t.base}/${deviceId}/state`,
  event: `${t.base}/${deviceId}/event`,
  acknowledge: `${t.base}/${deviceId}/acknowledge`,
  /** The wearer's "I'm OK" (a Home Assistant button, or the device itself over MQTT). */
  cancel: `${t.base}/${deviceId}/cancel`,
  /** Told to the device when a fall of its own is pending: {id, state, cancel_before}. */
  alert: `${t.base}/${deviceId}/alert`,
});

export const gatewayTopics = (t: DiscoveryTopics) => ({
  state: `${t.base}/gateway/state`,
  testAlert: `${t.base}/gateway/test_alert`,
});

/** The configs for one device's entities, in the order they are published. */
export function deviceConfigs(t: DiscoveryTopics, d: DeviceInfo): DiscoveryConfig[] {
  const topics = deviceTopics(t, d.device_id);
  const node = `caredian_${d.slug}`;
  const device: Record<string, unknown> = { identifiers: [node], name: d.name, manufacturer: 'CareDian', model: d.model ?? 'Fall sensor', via_device: GATEWAY_IDENTIFIER };
  if (d.fw) device.sw_version = d.fw;
  if (d.area) device.suggested_area = d.area;
  const common = (key: string, domain: string) => ({
    unique_id: `${node}_${key}`,
    default_entity_id: `${domain}.${node}_${key}`,
    device,
    origin: ORIGIN,
    availability: [{ topic: t.availability }],
  });
  const cfg = (domain: string, key: string, payload: Record<string, unknown>): DiscoveryConfig => ({ topic: `${t.prefix}/${domain}/${node}/${key}/config`, payload: { ...common(key, domain), ...payload } });
  return [
    cfg('binary_sensor', 'fall', {
      name: 'Fall',
      device_class: 'safety',
      icon: 'mdi:human-handsdown',
      state_topic: topics.state,
      value_template: '{{ value_json.fall }}',
      payload_on: 'ON',
      payload_off: 'OFF',
      json_attributes_topic: topics.state,
      json_attributes_template: '{{ value_json.alert | tojson }}',
    }),
    cfg('event', 'fall_event', { name: 'Fall event', icon: 'mdi:alarm-light', state_topic: topics.event, event_types: [...EVENT_TYPES] }),
    cfg('binary_sensor', 'online', { name: 'Online', device_class: 'connectivity', entity_category: 'diagnostic', state_topic: topics.state, value_template: '{{ value_json.online }}', payload_on: 'ON', payload_off: 'OFF' }),
    cfg('sensor', 'battery', { name: 'Battery', device_class: 'battery', unit_of_measurement: '%', state_class: 'measurement', entity_category: 'diagnostic', state_topic: topics.state, value_template: '{{ value_json.battery }}' }),
    cfg('sensor', 'fall_probability', { name: 'Last fall probability', icon: 'mdi:percent', state_class: 'measurement', state_topic: topics.state, value_template: '{{ value_json.probability }}' }),
    cfg('button', 'acknowledge', { name: 'Acknowledge', icon: 'mdi:check-circle', command_topic: topics.acknowledge, payload_press: 'PRESS' }),
    cfg('button', 'im_ok', { name: "I'm OK", icon: 'mdi:hand-okay', command_topic: topics.cancel, payload_press: 'PRESS' }),
  ];
}

/** The gateway itself: status, open alerts, and a button that sends a test alert through every sink. */
export function gatewayConfigs(t: DiscoveryTopics): DiscoveryConfig[] {
  const topics = gatewayTopics(t);
  const device = { identifiers: [GATEWAY_IDENTIFIER], name: 'CareDian Gateway', manufacturer: 'CareDian', model: 'Gateway', sw_version: VERSION };
  const common = (key: string, domain: string) => ({ unique_id: `${GATEWAY_IDENTIFIER}_${key}`, default_entity_id: `${domain}.${GATEWAY_IDENTIFIER}_${key}`, device, origin: ORIGIN, availability: [{ topic: t.availability }] });
  const cfg = (domain: string, key: string, payload: Record<string, unknown>): DiscoveryConfig => ({ topic: `${t.prefix}/${domain}/${GATEWAY_IDENTIFIER}/${key}/config`, payload: { ...common(key, domain), ...payload } });
  return [
    cfg('sensor', 'status', { name: 'Status', icon: 'mdi:shield-check', state_topic: topics.state, value_template: '{{ value_json.status }}', json_attributes_topic: topics.state, json_attributes_template: '{{ {"warnings": value_json.warnings} | tojson }}' }),
    cfg('sensor', 'open_alerts', { name: 'Open fall alerts', icon: 'mdi:alarm-light', state_class: 'measurement', state_topic: topics.state, value_template: '{{ value_json.open_alerts }}' }),
    cfg('button', 'test_alert', { name: 'Send a test alert', icon: 'mdi:bell-ring', entity_category: 'diagnostic', command_topic: topics.testAlert, payload_press: 'PRESS' }),
  ];
}
