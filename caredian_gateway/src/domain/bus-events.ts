// The gateway's bus: which events exist and what they carry. Features publish and listen through
// it instead of importing each other.
import { Bus } from '../core/bus.js';
import type { AlertNotice, AlertView } from './alerts.js';
import type { DeviceState } from './devices.js';
import type { StoredEvent } from './records.js';

export interface GatewayEvents {
  /** A record was appended to the durable event log (fsync'd). */
  'event.stored': StoredEvent;
  'device.online': DeviceState;
  'device.offline': DeviceState;
  'device.seen': DeviceState;
  /** An alert was opened, escalated or acknowledged (sinks are told through the outbox, not this). */
  'alert.notice': AlertNotice;
  /** Anything about an alert changed (a repeat fall, a new probability): entity publishers refresh. */
  'alert.changed': AlertView;
  /** Someone acknowledged an alert through an input (a phone action, a Home Assistant button). */
  'alert.ack_request': { id: string; by: string };
  /** Someone asked for a test alert (a button in Home Assistant, the page): the whole alert path, marked as a test. */
  'alert.test_request': { by: string };
  /** The wearer says "I'm OK" (MQTT, a Home Assistant button): cancels a pending alert, resolves an open one. */
  'alert.cancel_request': { id: string; by: string };
  /** Motion data after a fall: the wearer lies still, or is up and moving again. */
  'motion.still': { device_id: string };
  'motion.moving': { device_id: string };
  /** A device was removed from the gateway (its Home Assistant device goes too). */
  'device.removed': { device_id: string };
}

export class GatewayBus extends Bus<GatewayEvents> {}
