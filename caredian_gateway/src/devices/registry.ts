// The device registry: first/last seen, last reported values, online/offline with a timeout.
// Kept in DATA_DIR/devices.json (a snapshot) plus devices.journal (one line per device changed
// since, appended once a second): a busy gateway writes only what changed, and the snapshot is
// rewritten only when the journal has grown past it (and at start and stop). Transitions are
// published on the event bus.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { appendFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { GatewayBus } from '../domain/bus-events.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import { Router } from 'express';
import { writeFileAtomic, writeFileAtomicAsync } from '../core/files.js';
import type { StoredEvent } from '../domain/records.js';
import type { DeviceState } from '../domain/devices.js';
import type { Placement } from '../config/schema.js';
import { sendError } from '../http/errors.js';

const FLUSH_MS = 1000;
/** The journal is folded into the snapshot once it is larger than this and than the snapshot. */
const COMPACT_MIN_BYTES = 1024 * 1024;

type Entry = DeviceState & { lastSeenMs: number };
/** A journal line: a device's state, or that it was removed. */
type JournalLine = DeviceState | { device_id: string; removed: true };

export class DeviceRegistry implements GatewayModule {
  readonly name = 'devices';
  private devices = new Map<string, Entry>();
  /** Devices changed (or removed) since the last journal append. */
  private dirty = new Set<string>();
  private journalBytes = 0;
  private snapshotBytes = 0;
  private timer?: NodeJS.Timeout;
  private saveTimer?: NodeJS.Timeout;
  private saving?: Promise<void>;
  private unsubscribe?: () => void;
  private readonly path: string;
  private readonly journalPath: string;

  constructor(
    dataDir: string,
    private readonly bus: GatewayBus,
    private readonly log: Logger,
    private readonly offlineAfterMs: number,
  ) {
    this.path = join(dataDir, 'devices.json');
    this.journalPath = join(dataDir, 'devices.journal');
  }

  async start(): Promise<void> {
    if (existsSync(this.path)) {
      const text = readFileSync(this.path, 'utf8');
      this.snapshotBytes = Buffer.byteLength(text);
      for (const d of JSON.parse(text) as DeviceState[]) this.devices.set(d.device_id, { ...d, lastSeenMs: Date.parse(d.last_seen) });
    }
    if (existsSync(this.journalPath)) {
      this.replayJournal(readFileSync(this.journalPath, 'utf8'));
      this.compactNow();
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
    clearTimeout(this.saveTimer); // a retry scheduled by a failed flush: the compaction below covers it
    this.compactNow();
  }

  status(): ModuleStatus {
    let online = 0;
    for (const d of this.devices.values()) if (d.online) online++;
    return { ready: true, devices: this.devices.size, online };
  }

  /** GET /api/devices and DELETE /api/devices/<id> on the admin listener. */
  adminRoutes(): Router[] {
    const r = Router();
    r.get('/devices', (_req, res) => {
      res.json({ devices: this.list() });
    });
    r.delete('/devices/:id', (req, res) => {
      if (!this.remove(req.params.id)) return sendError(res, 404, 'not_found', 'no device with that id');
      res.json({ ok: true, removed: req.params.id });
    });
    return [r];
  }

  list(): DeviceState[] {
    return [...this.devices.values()].map((d) => this.view(d)).sort((a, b) => a.device_id.localeCompare(b.device_id));
  }

  has(deviceId: string): boolean {
    return this.devices.has(deviceId);
  }

  get size(): number {
    return this.devices.size;
  }

  /** Forgets a device (it no longer counts under max_devices); false if unknown. */
  remove(deviceId: string): boolean {
    if (!this.devices.delete(deviceId)) return false;
    this.log.info({ device_id: deviceId }, 'device removed from the registry');
    this.scheduleSave(deviceId);
    this.bus.emit('device.removed', { device_id: deviceId });
    return true;
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
    this.scheduleSave(deviceId);
  }

  /** The placement the device last declared (IMU chunks), if it ever did. */
  placementOf(deviceId: string): Placement | undefined {
    return this.devices.get(deviceId)?.placement;
  }

  /** A device declared where it is worn: remembered (and saved) when it changed; a device not kept yet counts as seen. */
  declarePlacement(deviceId: string, placement: Placement, clientId?: string, now = Date.now()): void {
    if (this.devices.get(deviceId)?.placement === placement) return;
    if (!this.devices.has(deviceId)) this.touch(deviceId, clientId, now);
    this.devices.get(deviceId)!.placement = placement;
    this.log.info({ device_id: deviceId, placement }, 'device placement declared');
    this.scheduleSave(deviceId);
  }

  /**
   * An input knows the device is gone (its Home Assistant entity became unavailable): offline now,
   * not after device_offline_after_sec. A device not seen before is kept, offline.
   */
  markOffline(deviceId: string, why: string, now = Date.now()): void {
    let d = this.devices.get(deviceId);
    if (!d) {
      const iso = new Date(now).toISOString();
      d = { device_id: deviceId, first_seen: iso, last_seen: iso, online: true, lastSeenMs: now };
      this.devices.set(deviceId, d);
    }
    if (!d.online) return;
    d.online = false;
    this.log.warn({ device_id: deviceId, reason: why }, 'device offline');
    this.bus.emit('device.offline', this.view(d));
    this.scheduleSave(deviceId);
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
        this.scheduleSave(d.device_id);
      }
    }
  }

  private view(d: Entry): DeviceState {
    const { lastSeenMs, ...rest } = d;
    return { ...rest, last_seen: new Date(lastSeenMs).toISOString() };
  }

  private replayJournal(text: string): void {
    for (const line of text.split('\n')) {
      if (!line) continue;
      let j: JournalLine;
      try {
        j = JSON.parse(line) as JournalLine;
      } catch {
        continue; // a line torn by a crash: the device's previous state stands
      }
      if ('removed' in j) this.devices.delete(j.device_id);
      else this.devices.set(j.device_id, { ...j, lastSeenMs: Date.parse(j.last_seen) });
    }
  }

  private scheduleSave(deviceId: string): void {
    this.dirty.add(deviceId);
    this.armFlush();
  }

  /** Starts the flush timer unless it is running; flushes run one after another. */
  private armFlush(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      // A change made while this flush is writing arms the next one.
      this.saveTimer = undefined;
      this.saving = (this.saving ?? Promise.resolve())
        .then(() => this.flush())
        .catch((err: unknown) => {
          this.log.error({ err }, 'could not save device registry');
          if (this.dirty.size > 0) this.armFlush(); // retried a period later
        });
    }, FLUSH_MS);
    this.saveTimer.unref();
  }

  /** Appends the changed devices to the journal; folds the journal into the snapshot when it has grown. */
  private async flush(): Promise<void> {
    const ids = [...this.dirty];
    this.dirty.clear();
    const lines = this.journalLines(ids);
    if (lines) {
      try {
        await appendFile(this.journalPath, lines, { mode: 0o600 });
      } catch (err) {
        // A part-written line (a full disk) would swallow the next one: cut back to whole lines.
        await truncate(this.journalPath, this.journalBytes).catch(() => undefined);
        for (const id of ids) this.dirty.add(id);
        throw err;
      }
      this.journalBytes += Buffer.byteLength(lines);
    }
    if (this.journalBytes > Math.max(COMPACT_MIN_BYTES, this.snapshotBytes)) {
      const snapshot = this.snapshotText();
      await writeFileAtomicAsync(this.path, snapshot, 0o600);
      await truncate(this.journalPath, 0);
      this.snapshotBytes = Buffer.byteLength(snapshot);
      this.journalBytes = 0;
    }
  }

  private journalLines(ids: string[]): string {
    let out = '';
    for (const id of ids) {
      const d = this.devices.get(id);
      out += JSON.stringify(d ? this.view(d) : { device_id: id, removed: true }) + '\n';
    }
    return out;
  }

  private snapshotText(): string {
    return JSON.stringify(this.list(), null, 1);
  }

  /** Writes the whole registry to the snapshot and drops the journal (start and stop). */
  private compactNow(): void {
    try {
      const snapshot = this.snapshotText();
      writeFileAtomic(this.path, snapshot, 0o600);
      rmSync(this.journalPath, { force: true });
      this.dirty.clear();
      this.snapshotBytes = Buffer.byteLength(snapshot);
      this.journalBytes = 0;
    } catch (err) {
      this.log.error({ err }, 'could not save device registry');
    }
  }
}
