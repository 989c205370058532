// The last state the gateway saw of each source entity, in DATA_DIR/ha-sources.json, so that after
// a restart it knows whether an entity's state is news. Written after the fall it reported was
// stored: a crash in between reports the same transition again, under the same event id, which
// the event store answers as a duplicate.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicAsync } from '../core/files.js';
import type { Remembered } from './transitions.js';

export class RememberedStates {
  private states = new Map<string, Remembered>();
  private readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, 'ha-sources.json');
  }

  load(): void {
    if (!existsSync(this.path)) return;
    try {
      const j = JSON.parse(readFileSync(this.path, 'utf8')) as { entities?: Record<string, Remembered> };
      for (const [id, r] of Object.entries(j.entities ?? {})) if (typeof r?.state === 'string' && typeof r.last_changed === 'number') this.states.set(id, r);
    } catch {
      // A torn or foreign file: every entity is seen afresh (its current state is not a fall).
    }
  }

  get(entityId: string): Remembered | undefined {
    return this.states.get(entityId);
  }

  /** Keeps the state and writes the file (writes run one after another, the latest state last). */
  set(entityId: string, r: Remembered): Promise<void> {
    const old = this.states.get(entityId);
    if (old && old.state === r.state && old.last_changed === r.last_changed) return this.chain;
    this.states.set(entityId, r);
    // One failed write (a full disk) must not stop the ones after it.
    this.chain = this.chain.catch(() => {}).then(() => writeFileAtomicAsync(this.path, JSON.stringify({ entities: Object.fromEntries(this.states) })));
    return this.chain;
  }

  /** Resolves once every write asked for so far is done. */
  flushed(): Promise<void> {
    return this.chain.catch(() => {});
  }
}
