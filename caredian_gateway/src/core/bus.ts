// A typed in-process bus. Listeners run after the publisher's work is done and a failing
// listener never affects the publisher or other listeners. The event map is the caller's:
// this file knows no feature (see domain/bus-events.ts for the gateway's).
import type { Logger } from './logger.js';

type Handler<T> = (payload: T) => void | Promise<void>;

export class Bus<Events extends object> {
  private handlers = new Map<keyof Events, Set<Handler<never>>>();
  constructor(private readonly log?: Logger) {}

  on<K extends keyof Events>(name: K, h: Handler<Events[K]>): () => void {
    let set = this.handlers.get(name);
    if (!set) this.handlers.set(name, (set = new Set()));
    set.add(h as Handler<never>);
    return () => set.delete(h as Handler<never>);
  }

  has(name: keyof Events): boolean {
    return (this.handlers.get(name)?.size ?? 0) > 0;
  }

  emit<K extends keyof Events>(name: K, payload: Events[K]): void {
    const set = this.handlers.get(name);
    if (!set) return;
    for (const h of set) {
      try {
        const r = (h as Handler<Events[K]>)(payload);
        if (r instanceof Promise) r.catch((err: unknown) => this.log?.error({ err, event: String(name) }, 'event bus listener failed'));
      } catch (err) {
        this.log?.error({ err, event: String(name) }, 'event bus listener failed');
      }
    }
  }
}
