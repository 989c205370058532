// The device registry: first/last seen, last reported values, online/offline with a timeout.
// Kept in DATA_DIR/devices.json; transitions are published on the event bus.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GatewayBus } from '../domain/bus-events.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import { Router } from 'express';
import { writeFileAtomic, writeFileAtomicAsync } from '../core/files.js';
import type { StoredEvent } from '../domain/records.js';
import type { DeviceState } from '../domain/devices.js';

export class DeviceRegistry implements GatewayModule {
  readonly name = 'devices';
  private devices = new Map<string, DeviceState & { lastSeenMs: number }>();
  private timer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  private saving?: Promise<void>;
  private unsubscribe?: () => void;
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly bus: GatewayBus,
    private readonly log: Logger,
    private readonly offlineAfterMs: number,
  ) {
    this.path = join(dataDir, 'devices.json');
  }

  async start(): Promise<void> {
    if (existsSync(this.path)) {
      for (const d of JSON.parse(readFileSync(this.path, 'utf8')) as DeviceState[]) this.devices.set(d.device_id, { ...d, lastSeenMs: Date.parse(d.last_seen) });
    }
    this.unsubscribe = this.bus.on('event.stored', (e) => this.onStored(e));
    this.sweep();
    this.timer = setInterval(() => this.sweep(), Math.min(10_000, this.offlineAfterMs / 4));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    clearInterval(this.timer);
    clearTimeout(this.saveTimer);
    // A periodic save still in flight must not land after the final one.
    await this.saving;
    this.save();
  }

  status(): ModuleStatus {
    let online = 0;
    for (const d of this.devices.values()) if (d.online) online++;
    return { ready: true, devices: this.devices.size, online };
  }

  /** GET /api/devices on the admin listener. */
  adminRoutes(): Router[] {
    const r = Router();
    r.get('/devices', (_req, res) => {
      res.json({ devices: this.list() });
    });
    return [r];
  }

  list(): DeviceState[] {
    return [...this.devices.values()].map((d) => this.view(d)).sort((a, b) => a.device_id.localeCompare(b.device_id));
  }

  /** Any authenticated device request counts as seen. */
  touch(deviceId: string, clientId?: string, now = Date.now()): void {
    let d = this.devices.get(deviceId);
    if (!d) {
      const iso = new Date(now).toISOString();
      d = { device_id: deviceId, first_seen: iso, last_seen: iso, online: false, lastSeenMs: now };
      this.devices.set(deviceId, d);
    }
    // last_seen (ISO) is derived from lastSeenMs when read; formatting it per event is wasted work.
    d.lastSeenMs = now;
    if (clientId) d.client_id = clientId;
    if (!d.online) {
      d.online = true;
      this.log.info({ device_id: deviceId }, 'device online');
      this.bus.emit('device.online', this.view(d));
    }
    this.scheduleSave();
  }

  private onStored(e: StoredEvent): void {
    if (e.kind === 'usage' || e.kind === 'alert') return;
    this.touch(e.device_id, e.client_id, e.received_ms);
    const d = this.devices.get(e.device_id)!;
    if (e.kind === 'heartbeat') {
      for (const k of ['battery', 'rssi', 'fw', 'uptime_s'] as const) if (e[k] !== undefined) (d as unknown as Record<string, unknown>)[k] = e[k];
    } else if (e.kind === 'fall') {
      d.location = e.location;
      d.last_event = e.event;
    }
    if (this.bus.has('device.seen')) this.bus.emit('device.seen', this.view(d));
  }

  sweep(now = Date.now()): void {
    for (const d of this.devices.values()) {
      if (d.online && now - d.lastSeenMs > this.offlineAfterMs) {
        d.online = false;
        this.log.warn({ device_id: d.device_id, last_seen: new Date(d.lastSeenMs).toISOString() }, 'device offline');
        this.bus.emit('device.offline', this.view(d));
        this.scheduleSave();
      }
    }
  }

  private view(d: DeviceState & { lastSeenMs: number }): DeviceState {
    const { lastSeenMs, ...rest } = d;
    return { ...rest, last_seen: new Date(lastSeenMs).toISOString() };
  }

  private scheduleSave(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saving = writeFileAtomicAsync(this.path, JSON.stringify(this.list(), null, 1), 0o600)
        .catch((err: unknown) => this.log.error({ err }, 'could not save device registry'))
        .finally(() => (this.saveTimer = undefined));
    }, 1000);
    this.saveTimer.unref();
  }

  private save(): void {
    try {
      writeFileAtomic(this.path, JSON.stringify(this.list(), null, 1), 0o600);
    } catch (err) {
      this.log.error({ err }, 'could not save device registry');
    }
  }
}
