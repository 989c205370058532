// The typed in-process bus modules use to talk to each other. Listeners run after the
// publisher's work is done (durable) and a failing listener never affects others.
import type { Logger } from './logger.js';
import type { StoredEvent } from '../events/types.js';
import type { DeviceState } from '../devices/registry.js';

export interface BusEvents {
  /** A record was appended to the durable event log (fsync'd). */
  'event.stored': StoredEvent;
  'device.online': DeviceState;
  'device.offline': DeviceState;
  'device.seen': DeviceState;
}

type Handler<T> = (payload: T) => void | Promise<void>;

export class EventBus {
  private handlers = new Map<keyof BusEvents, Set<Handler<never>>>();
  constructor(private readonly log?: Logger) {}

  on<K extends keyof BusEvents>(name: K, h: Handler<BusEvents[K]>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(h as Handler<never>);
    return () => set.delete(h as Handler<never>);
  }

  has(name: keyof BusEvents): boolean {
    return (this.handlers.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof BusEvents>(name: K, payload: BusEvents[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    for (const h of set) {
      try {
        const r = (h as Handler<BusEvents[K]>)(payload);
        if (r instanceof Promise) r.catch((err: unknown) => this.log?.error({ err, event: name }, 'event bus listener failed'));
      } catch (err) {
        this.log?.error({ err, event: name }, 'event bus listener failed');
      }
    }
  }
}
