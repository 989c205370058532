// Home Assistant's subscribe_entities messages (since 2022.4) as full states. The first message
// after every (re)subscription lists the current states ("a"); then come diffs ("c": what was
// added or removed) and removals ("r"). States are compressed: s (state), a (attributes),
// lc (last_changed, epoch seconds), lu (last_updated, when it differs), c (context).

export interface EntityState {
  entity_id: string;
  state: string;
  attributes: Record<string, unknown>;
  /** Epoch seconds. */
  last_changed: number;
}

interface Compressed {
  s: string;
  a?: Record<string, unknown>;
  lc: number;
  lu?: number;
  c?: unknown;
}

interface Diff {
  '+'?: { s?: string; a?: Record<string, unknown>; lc?: number; lu?: number; c?: unknown };
  '-'?: { a?: string[] };
}

export interface EntitiesMessage {
  a?: Record<string, Compressed>;
  c?: Record<string, Diff>;
  r?: string[];
}

export class EntityStates {
  private states = new Map<string, EntityState>();

  get(entityId: string): EntityState | undefined {
    return this.states.get(entityId);
  }

  /**
   * Applies one message. `changed` holds the entities whose state is new to us: every entity of a
   * full listing, and those whose state or last_changed a diff changed (attributes alone do not count).
   */
  apply(m: EntitiesMessage): { changed: EntityState[]; removed: string[] } {
    const changed: EntityState[] = [];
    for (const [id, s] of Object.entries(m.a ?? {})) {
      const full = { entity_id: id, state: String(s.s), attributes: s.a ?? {}, last_changed: Number(s.lc) };
      this.states.set(id, full);
      changed.push(full);
    }
    for (const [id, diff] of Object.entries(m.c ?? {})) {
      const old = this.states.get(id);
      if (!old) continue;
      const add = diff['+'] ?? {};
      const attributes = { ...old.attributes, ...(add.a ?? {}) };
      for (const k of diff['-']?.a ?? []) delete attributes[k];
      const next = { entity_id: id, state: add.s !== undefined ? String(add.s) : old.state, attributes, last_changed: add.lc !== undefined ? Number(add.lc) : old.last_changed };
      this.states.set(id, next);
      if (next.state !== old.state || next.last_changed !== old.last_changed) changed.push(next);
    }
    const removed = m.r ?? [];
    for (const id of removed) this.states.delete(id);
    return { changed, removed };
  }
}
