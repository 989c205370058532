// People, not ids: what the `devices` option says about a device (its name, who wears it, where it
// usually is), and the words messages use for them.
import type { DeviceConfig, Placement } from '../config/schema.js';

export interface DeviceDescription {
  device_id: string;
  /** The configured name, or the device id. */
  name: string;
  /** Who wears or uses it, when configured. */
  person?: string;
  /** Where a fixed device is, when configured. */
  location?: string;
  placement?: Placement;
}

export function describeDevice(devices: readonly DeviceConfig[], deviceId: string): DeviceDescription {
  const d = devices.find((x) => x.device_id === deviceId);
  return { device_id: deviceId, name: d?.name ?? deviceId, ...(d?.person ? { person: d.person } : {}), ...(d?.location ? { location: d.location } : {}), ...(d?.placement ? { placement: d.placement } : {}) };
}

/**
 * Where the fall happened: what the device reported, unless that is only the gateway's default
 * location and the device has a configured one (a bed sensor that never says "bedroom").
 */
export function fallLocation(d: DeviceDescription, reported: string, locationDefault: string): string {
  return reported === locationDefault && d.location ? d.location : reported;
}

/** "in the bathroom", "in the living room", "at home". */
export function inPlace(location: string): string {
  const room = location.replace(/_/g, ' ');
  return room.toLowerCase() === 'home' ? 'at home' : `in the ${room}`;
}

/** "14:32" in the process's time zone (TZ, which the Supervisor sets to Home Assistant's); the date too when it is not today. */
export function localTime(iso: string, now = new Date()): string {
  const t = new Date(iso);
  const time = t.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const day = (x: Date) => x.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  return day(t) === day(now) ? `at ${time}` : `on ${t.toLocaleDateString('en-GB', { day: 'numeric', month: 'short' })} at ${time}`;
}

/** The sentence a caregiver reads: "Grandma Kim may have fallen in the bathroom at 14:32". */
export function fallSentence(d: DeviceDescription, location: string, timeIso: string, now?: Date): string {
  const where = `${inPlace(location)} ${localTime(timeIso, now)}`;
  return d.person ? `${d.person} may have fallen ${where}` : `${d.name} detected a fall ${where}`;
}
