// When an entity's state is a new fall or call for help. Judged against the last state the gateway
// saw of the entity (kept on disk), never against "the state before" in one message, so that a
// reconnect, a restart of Home Assistant (which restores states with a new last_changed) or a
// device coming back from `unavailable` while still `on` is not a second fall, and an `on` that
// happened while the gateway was away is one.
import type { HaSourceConfig } from '../config/schema.js';
import type { EntityState } from './entity-states.js';

/** The last available state the gateway saw of an entity. */
export interface Remembered {
  state: string;
  /** Epoch seconds. */
  last_changed: number;
}

export interface Verdict {
  /** A new fall or call for help: when it happened, and what identifies it (the same transition always gives the same key). */
  fire?: { ts: number; key: string };
  /** The entity is unavailable: its device is offline. */
  offline: boolean;
  /** What to keep as the entity's last state; undefined keeps the old one. */
  remember?: Remembered;
  /** The entity's state is seen for the first time: nothing to compare with, so never a fall. */
  firstSight: boolean;
}

export const isEventEntity = (entityId: string) => entityId.startsWith('event.');

export function judge(source: HaSourceConfig, prev: Remembered | undefined, now: EntityState): Verdict {
  if (now.state === 'unavailable') return { offline: true, firstSight: false };
  // Home Assistant says `unknown` while it has no value: at its start (before a state is restored;
  // nothing to keep), or for an event entity that never fired (kept, so its first event is news).
  if (now.state === 'unknown') {
    const never = !prev && isEventEntity(source.entity_id);
    return { offline: false, firstSight: false, ...(never ? { remember: { state: 'unknown', last_changed: now.last_changed } } : {}) };
  }
  const remember = { state: now.state, last_changed: now.last_changed };
  if (!prev) return { offline: false, remember, firstSight: true };
  if (isEventEntity(source.entity_id)) {
    // An event entity's state is the time of its last event: a new time is a new event.
    if (now.state === prev.state) return { offline: false, remember, firstSight: false };
    if (source.state !== undefined && now.attributes.event_type !== source.state) return { offline: false, remember, firstSight: false };
    const at = Date.parse(now.state);
    return { offline: false, remember, firstSight: false, fire: { ts: Number.isFinite(at) ? at / 1000 : now.last_changed, key: now.state } };
  }
  const trigger = source.state ?? 'on';
  if (now.state !== trigger || prev.state === trigger) return { offline: false, remember, firstSight: false };
  return { offline: false, remember, firstSight: false, fire: { ts: now.last_changed, key: String(now.last_changed) } };
}
