// What the gateway knows about one device, as the registry publishes it.
import type { Placement } from '../config/schema.js';

export interface DeviceState {
  device_id: string;
  client_id?: string;
  first_seen: string;
  last_seen: string;
  online: boolean;
  location?: string;
  battery?: number;
  rssi?: number;
  fw?: string;
  uptime_s?: number;
  last_event?: string;
  /** Where the device last said it is worn (an IMU chunk's placement). */
  placement?: Placement;
}
