// Caps on new device ids, so that one token cannot fill InfluxDB's per-tag limit (every device id
// is a tag value) or the gateway's per-device state: at most `maxDevices` devices in all, and at
// most `maxNewPerMin` new ones per client and minute. A refusal is logged once per client and
// limit until that client is admitted a new device again, and shown in the module status.
import type { Logger } from '../core/logger.js';

/** The devices the gateway already keeps (the registry). */
export interface KnownDevices {
  has(deviceId: string): boolean;
  readonly size: number;
}

export type DeviceLimit = 'max_devices' | 'max_new_devices_per_min';

export interface Refusal {
  limit: DeviceLimit;
  description: string;
  retryAfterSec?: number;
}

export interface AdmissionSettings {
  maxDevices: number;
  maxNewPerMin: number;
}

const MINUTE_MS = 60_000;
/** How long after the last refusal the status keeps warning. */
const WARN_FOR_MS = 3600_000;

export class DeviceAdmission {
  /** New devices admitted that the registry may not have seen stored yet. */
  private admitted = new Set<string>();
  /** Per client: when it was admitted its recent new devices (at most maxNewPerMin entries). */
  private recent = new Map<string, number[]>();
  private logged = new Set<string>();
  private refused: Record<DeviceLimit, number> = { max_devices: 0, max_new_devices_per_min: 0 };
  private last?: { at: number; clientId: string; limit: DeviceLimit };

  constructor(
    private readonly known: KnownDevices,
    private readonly s: AdmissionSettings,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined when `deviceId` may be stored for `clientId`; else why not. A new device counts once admitted. */
  admit(clientId: string, deviceId: string): Refusal | undefined {
    if (this.known.has(deviceId) || this.admitted.has(deviceId)) return undefined;
    const now = this.now();
    for (const id of this.admitted) if (this.known.has(id)) this.admitted.delete(id);
    if (this.known.size + this.admitted.size >= this.s.maxDevices) {
      return this.refuse(clientId, deviceId, now, {
        limit: 'max_devices',
        description: `the gateway already keeps its maximum of ${this.s.maxDevices} devices (max_devices); a new device id is not accepted until an administrator raises max_devices or removes devices`,
      });
    }
    const times = (this.recent.get(clientId) ?? []).filter((t) => now - t < MINUTE_MS);
    if (times.length >= this.s.maxNewPerMin) {
      this.recent.set(clientId, times);
      return this.refuse(clientId, deviceId, now, {
        limit: 'max_new_devices_per_min',
        description: `this client introduced ${this.s.maxNewPerMin} new device ids within a minute (max_new_devices_per_min); retry later`,
        retryAfterSec: Math.max(1, Math.ceil((times[0]! + MINUTE_MS - now) / 1000)),
      });
    }
    times.push(now);
    this.recent.set(clientId, times);
    this.admitted.add(deviceId);
    this.logged.delete(`${clientId}\u0000max_devices`);
    this.logged.delete(`${clientId}\u0000max_new_devices_per_min`);
    return undefined;
  }

  private refuse(clientId: string, deviceId: string, now: number, r: Refusal): Refusal {
    this.refused[r.limit]++;
    this.last = { at: now, clientId, limit: r.limit };
    const key = `${clientId}\u0000${r.limit}`;
    if (!this.logged.has(key)) {
      this.logged.add(key);
      this.log.warn({ client_id: clientId, device_id: deviceId, limit: r.limit, max_devices: this.s.maxDevices, max_new_devices_per_min: this.s.maxNewPerMin }, 'new device refused: device limit reached (logged once per client until it is admitted a new device)');
    }
    return r;
  }

  get devices(): number {
    return this.known.size + this.admitted.size;
  }

  status(): { devices: number; max_devices: number; max_new_devices_per_min: number; refused_new_devices: Record<DeviceLimit, number>; warning?: string } {
    const base = { devices: this.devices, max_devices: this.s.maxDevices, max_new_devices_per_min: this.s.maxNewPerMin, refused_new_devices: { ...this.refused } };
    const l = this.last;
    if (!l || this.now() - l.at > WARN_FOR_MS) return base;
    const ago = Math.round((this.now() - l.at) / 1000);
    const what = l.limit === 'max_devices' ? `the gateway keeps its maximum of ${this.s.maxDevices} devices (max_devices)` : `client "${l.clientId}" exceeded ${this.s.maxNewPerMin} new devices per minute (max_new_devices_per_min)`;
    return { ...base, warning: `new devices are being refused: ${what}; last refusal ${ago} s ago` };
  }
}
