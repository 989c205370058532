// What the motion looked like around each fall the model decided: the acceleration magnitude and
// the model's probability from 10 s before to 10 s after, kept with the fall in
// DATA_DIR/fall-motion/<event id>.json (written at once, with what there is, and again once the
// 10 s after have arrived). The status page plots it in the fall's detail. At most `maxFiles`
// files are kept (the oldest go first); nothing here runs per sample.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicAsync } from '../core/files.js';
import type { Logger } from '../core/logger.js';
import type { MotionTrail } from './motion-trail.js';

export const BEFORE_SEC = 10;
export const AFTER_SEC = 10;
/** A device that stops sending after a fall: its snippet is closed with what arrived, this long after the fall. */
const GIVE_UP_MS = (AFTER_SEC + 30) * 1000;
const SAFE_ID = /^[A-Za-z0-9_:-][A-Za-z0-9._:-]{0,63}$/;

export interface FallMotion {
  event_id: string;
  device_id: string;
  /** Epoch seconds of the decided fall (the end of the window that decided it). */
  fall_ts: number;
  /** False while the 10 s after the fall are still arriving. */
  complete: boolean;
  rate_hz: number;
  /** Seconds from the fall to the first magnitude (negative: before it). */
  start_offset_sec: number;
  /** Acceleration magnitude in g, one per 1/rate_hz s; null where no sample arrived. */
  magnitude_g: (number | null)[];
  /** [seconds from the fall, the model's probability for the window ending then]. */
  prob: [number, number][];
  /** The decision threshold in force (the plot draws it). */
  threshold: number;
  /** The largest magnitude (the impact, for a real fall) and when, in seconds from the fall. */
  peak?: { t: number; g: number };
}

interface Pending {
  eventId: string;
  deviceId: string;
  ts: number;
  trail: MotionTrail;
  giveUpMs: number;
}

export class FallMotionRecorder {
  private pending = new Map<string, Pending>();
  private writes = new Map<string, Promise<void>>();
  /** Snippets whose file is still being written: read from here meanwhile. */
  private unwritten = new Map<string, string>();
  private written = 0;

  constructor(
    readonly dir: string,
    private readonly threshold: () => number,
    private readonly log: Logger,
    private readonly o: { maxFiles?: number; maxPending?: number } = {},
  ) {}

  start(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.prune();
  }

  /** A fall the model decided at `ts` for a device whose trail this is: its snippet is kept. */
  capture(deviceId: string, eventId: string, ts: number, trail: MotionTrail | undefined, nowMs = Date.now()): void {
    if (!trail || !SAFE_ID.test(eventId)) return;
    const p: Pending = { eventId, deviceId, ts, trail, giveUpMs: nowMs + GIVE_UP_MS };
    this.pending.set(eventId, p);
    // Bounded: with too many open at once, the oldest is closed with what it has.
    if (this.pending.size > (this.o.maxPending ?? 200)) this.finish(this.pending.values().next().value!);
    this.save(p, false);
  }

  /** After a chunk of the device: snippets whose 10 s after have arrived are completed. */
  progress(deviceId: string): void {
    if (!this.pending.size) return;
    for (const p of this.pending.values()) if (p.deviceId === deviceId && p.trail.latest >= p.ts + AFTER_SEC) this.finish(p);
  }

  /** Closes snippets of devices that went quiet (call now and then). */
  tick(nowMs = Date.now()): void {
    for (const p of this.pending.values()) if (nowMs >= p.giveUpMs) this.finish(p);
  }

  /** The snippet of a fall: still growing, or from its file. */
  read(eventId: string): FallMotion | undefined {
    const p = this.pending.get(eventId);
    if (p) return this.snippet(p, false);
    if (!SAFE_ID.test(eventId)) return undefined;
    const path = this.path(eventId);
    const body = this.unwritten.get(eventId);
    if (body === undefined && !existsSync(path)) return undefined;
    try {
      return JSON.parse(body ?? readFileSync(path, 'utf8')) as FallMotion;
    } catch {
      return undefined;
    }
  }

  /** Completes every open snippet with what arrived and waits for the files (at stop). */
  async flush(): Promise<void> {
    for (const p of [...this.pending.values()]) this.finish(p);
    await Promise.all(this.writes.values());
  }

  private finish(p: Pending): void {
    this.pending.delete(p.eventId);
    this.save(p, true);
  }

  private snippet(p: Pending, complete: boolean): FallMotion {
    const x = p.trail.extract(p.ts - BEFORE_SEC, p.ts + AFTER_SEC);
    // Steps before the device's first sample (a stream that began less than 10 s before) are left out.
    const lead = x.magnitude.findIndex((g) => g !== null);
    if (lead > 0) {
      x.magnitude = x.magnitude.slice(lead);
      x.start += lead / x.rateHz;
    }
    const rel = (t: number) => Math.round((t - p.ts) * 1000) / 1000;
    let peak: FallMotion['peak'];
    x.magnitude.forEach((g, i) => {
      if (g !== null && (!peak || g > peak.g)) peak = { t: rel(x.start + i / x.rateHz), g };
    });
    return {
      event_id: p.eventId,
      device_id: p.deviceId,
      fall_ts: p.ts,
      complete,
      rate_hz: x.rateHz,
      start_offset_sec: rel(x.start),
      magnitude_g: x.magnitude,
      prob: x.prob.map(([t, v]) => [rel(t), v]),
      threshold: this.threshold(),
      ...(peak ? { peak } : {}),
    };
  }

  private save(p: Pending, complete: boolean): void {
    const body = JSON.stringify(this.snippet(p, complete));
    this.unwritten.set(p.eventId, body);
    // One write at a time per fall, so the complete snippet is never overwritten by the first one.
    const prev = this.writes.get(p.eventId) ?? Promise.resolve();
    const next = prev
      .then(() => writeFileAtomicAsync(this.path(p.eventId), body))
      .catch((err: unknown) => this.log.error({ err, event_id: p.eventId }, 'could not save the motion around a fall'));
    this.writes.set(p.eventId, next);
    void next.then(() => {
      if (this.writes.get(p.eventId) !== next) return;
      this.writes.delete(p.eventId);
      this.unwritten.delete(p.eventId);
    });
    if (complete && ++this.written % 50 === 0) void next.then(() => this.prune());
  }

  private path(eventId: string): string {
    return join(this.dir, `${eventId}.json`);
  }

  /** Keeps the newest `maxFiles` snippets. */
  private prune(): void {
    const max = this.o.maxFiles ?? 1000;
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((n) => n.endsWith('.json'));
    } catch {
      return;
    }
    if (names.length <= max) return;
    const mtime = (n: string) => {
      try {
        return statSync(join(this.dir, n)).mtimeMs;
      } catch {
        return 0;
      }
    };
    const aged = names.map((n) => ({ n, t: mtime(n) })).sort((a, b) => a.t - b.t);
    for (const { n } of aged.slice(0, names.length - max)) rmSync(join(this.dir, n), { force: true });
  }
}
