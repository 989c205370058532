// The alerts and their outbox on disk (DATA_DIR/alerts.json), written atomically on every change,
// plus the last event-log sequence number the alert service has seen (replayed at start, so a fall
// stored just before a crash still alerts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDiskFull, writeFileAtomic, writeFileAtomicAsyncUnlessStale } from '../core/files.js';
import type { AlertView } from '../domain/alerts.js';
import type { SinkDelivery } from './sink.js';

export interface Outgoing {
  sink: string;
  d: SinkDelivery;
  attempts: number;
  nextTryMs: number;
  lastError?: string;
}

export interface FailedDelivery {
  sink: string;
  kind: string;
  reason: string;
  at: string;
}

export interface Alert extends AlertView {
  outbox: Outgoing[];
  failed?: FailedDelivery[];
}

interface Saved {
  cursor: number;
  alerts: Alert[];
}

/** Sink of deliveries written before sinks had names (all of them were Home Assistant's). */
const LEGACY_SINK = 'home_assistant';

export class AlertFile {
  readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'alerts.json');
  }

  load(): { alerts: Alert[]; cursor?: number } {
    if (!existsSync(this.path)) return { alerts: [] };
    const raw = JSON.parse(readFileSync(this.path, 'utf8')) as Alert[] | Saved;
    const saved = Array.isArray(raw) ? { alerts: raw, cursor: undefined } : raw;
    for (const a of saved.alerts) for (const o of a.outbox) o.sink ??= LEGACY_SINK;
    return saved;
  }

  /** Counts saves, so a background save overtaken by a synchronous one is dropped. */
  private generation = 0;
  private backgroundRunning = false;

  /** False on a full disk: the alerts stay in memory and the next save writes them all (/ready says why). */
  save(alerts: Iterable<Alert>, cursor: number): boolean {
    this.generation++;
    try {
      writeFileAtomic(this.path, JSON.stringify({ cursor, alerts: [...alerts] } satisfies Saved), 0o600);
      return true;
    } catch (err) {
      if (isDiskFull(err)) return false;
      throw err;
    }
  }

  /**
   * The same save off the event loop (two fsyncs on the main thread stall every request in flight),
   * for changes that may reach the disk a little later. A save() made meanwhile wins. Undefined while
   * one is already running; resolves false on a full disk, true otherwise.
   */
  saveInBackground(alerts: Iterable<Alert>, cursor: number): Promise<boolean> | undefined {
    if (this.backgroundRunning) return undefined;
    this.backgroundRunning = true;
    const gen = ++this.generation;
    const data = JSON.stringify({ cursor, alerts: [...alerts] } satisfies Saved);
    return writeFileAtomicAsyncUnlessStale(this.path, data, 0o600, () => gen === this.generation)
      .then(
        () => true,
        (err: unknown) => {
          if (isDiskFull(err)) return false;
          throw err;
        },
      )
      .finally(() => (this.backgroundRunning = false));
  }
}
