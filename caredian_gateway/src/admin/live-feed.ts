// GET /api/stream: what changes, as it changes, for the status page (server-sent events). Alerts
// (a fall, an acknowledgement, a test alert) are sent at once; device state is gathered and sent
// once a second at most, so a thousand devices streaming motion do not flood a page; the gateway's
// status is sent when it changes. A page that cannot keep up is disconnected (it reconnects and
// reloads), so a slow reader never makes the gateway hold more than a little per page.
import type { Request, Response } from 'express';
import type { Logger } from '../core/logger.js';
import type { GatewayBus } from '../domain/bus-events.js';
import type { DeviceState } from '../domain/devices.js';
import { isDecided, type StoredEvent } from '../domain/records.js';
import { sendError } from '../http/errors.js';

const DEVICE_FLUSH_MS = 1000;
const STATUS_EVERY_MS = 5000;
const PING_EVERY_MS = 15_000;
/** Bytes a page may leave unread before it is disconnected. */
const MAX_UNREAD_BYTES = 512 * 1024;

export interface LiveFeedDeps {
  bus: GatewayBus;
  status: () => Record<string, unknown>;
  log: Logger;
  maxStreams?: number;
}

export class LiveFeed {
  private readonly clients = new Set<Response>();
  private devices = new Map<string, DeviceState>();
  private unsubs: (() => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private lastStatus = '';
  private statusTimer?: NodeJS.Timeout;

  constructor(private readonly d: LiveFeedDeps) {}

  start(): void {
    const bus = this.d.bus;
    this.unsubs.push(
      bus.on('alert.changed', (a) => {
        this.send('alert', a);
        this.statusSoon();
      }),
    );
    for (const name of ['device.online', 'device.offline', 'device.seen'] as const) this.unsubs.push(bus.on(name, (s) => this.onDevice(s)));
    this.unsubs.push(bus.on('device.removed', (r) => this.send('device_removed', r)));
    this.unsubs.push(bus.on('event.stored', (e) => this.onStored(e)));
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(DEVICE_FLUSH_MS, () => this.flushDevices());
    every(STATUS_EVERY_MS, () => this.sendStatusIfChanged());
    every(PING_EVERY_MS, () => this.write(': ping\n\n'));
  }

  /** Ends every stream (before the listener closes, so it need not wait for them). */
  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  stop(): void {
    for (const u of this.unsubs) u();
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.statusTimer);
    this.unsubs = [];
    this.timers = [];
    this.closeAll();
  }

  get streams(): number {
    return this.clients.size;
  }

  readonly handler = (req: Request, res: Response): void => {
    if (this.clients.size >= (this.d.maxStreams ?? 32)) {
      res.setHeader('Retry-After', '10');
      return void sendError(res, 503, 'too_many_streams', 'too many status pages are open at once; close one or retry later');
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no', Connection: 'keep-alive' });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    this.clients.add(res);
    res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify(this.statusNow())}\n\n`);
    const gone = () => this.clients.delete(res);
    req.on('close', gone);
    res.on('error', gone);
  };

  private onDevice(s: DeviceState): void {
    if (this.clients.size) this.devices.set(s.device_id, s);
  }

  /** Device reports as they are stored, as GET /api/events lists them; heartbeats and motion only change device state. */
  private onStored(e: StoredEvent): void {
    if (e.kind !== 'fall' || !this.clients.size) return;
    const time = new Date(Number(BigInt(e.ts_ns) / 1_000_000n)).toISOString();
    this.send('event', { time, device_id: e.device_id, location: e.location, event: e.event, prob: e.prob, source: e.source, event_id: e.event_id, decided: isDecided(e) });
  }

  private flushDevices(): void {
    if (!this.devices.size) return;
    const batch = [...this.devices.values()];
    this.devices = new Map();
    this.send('devices', batch);
  }

  private statusNow(): Record<string, unknown> {
    const { uptime_s: _u, ...s } = this.d.status();
    return s;
  }

  /** The status counts open alerts: sent shortly after an alert changes, once for a burst of changes. */
  private statusSoon(): void {
    if (this.statusTimer || !this.clients.size) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.sendStatusIfChanged();
    }, 250);
    this.statusTimer.unref();
  }

  private sendStatusIfChanged(): void {
    if (!this.clients.size) return;
    const s = JSON.stringify(this.statusNow());
    if (s === this.lastStatus) return;
    this.lastStatus = s;
    this.write(`event: status\ndata: ${s}\n\n`);
  }

  private send(event: string, data: unknown): void {
    if (this.clients.size) this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  private write(text: string): void {
    for (const res of this.clients) {
      if (res.writableLength > MAX_UNREAD_BYTES) {
        this.d.log.warn({ unread_bytes: res.writableLength }, 'a status page stopped reading its live updates; disconnected it');
        this.clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }
}
