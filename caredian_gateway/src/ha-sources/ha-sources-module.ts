// Home Assistant entities as sources (ha_sources): a fall radar, a help button, a phone's fall
// detection forwarded by an automation. The gateway follows them with subscribe_entities (only
// these entities; after every reconnect Home Assistant lists their current states first) and
// turns each new `on` (or new event) into a fall or a call for help through the ingest core, so
// it is stored, alerted, escalated and acknowledged like a wearable's. Each transition has a fixed
// event id (the entity and its last_changed), so a report made twice is stored once.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HaSourceConfig } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';
import type { HaClient } from '../ha/ha-client.js';
import type { IngestCore } from '../ingest/ingest-core.js';
import type { DeviceIdentity } from '../ingest/outcomes.js';
import { EntityStates, type EntitiesMessage, type EntityState } from './entity-states.js';
import { RememberedStates } from './remembered-states.js';
import { isEventEntity, judge } from './transitions.js';

/** Who keeps devices online and offline (the device registry). */
export interface Presence {
  touch(deviceId: string, clientId?: string): void;
  markOffline(deviceId: string, why: string): void;
}

export interface HaSourcesDeps {
  /** The Home Assistant connection; undefined when there is none. */
  client?: HaClient;
  sources: HaSourceConfig[];
  ingest: IngestCore;
  presence: Presence;
  dataDir: string;
  log: Logger;
  /** device_offline_after_sec: a source that is available counts as seen well within it. */
  offlineAfterMs: number;
}

/** Who speaks for source entities: the ingest core lets it speak for the devices ha_sources name. */
const HA_IDENTITY: DeviceIdentity = { clientId: 'home_assistant', via: 'home_assistant' };

export class HaSourcesModule implements GatewayModule {
  readonly name = 'ha_sources';
  private readonly entities = new EntityStates();
  private readonly remembered: RememberedStates;
  private readonly bySource: Map<string, HaSourceConfig>;
  private work: Promise<void> = Promise.resolve();
  private heard = false;
  private stopping = new AbortController();
  private timer?: NodeJS.Timeout;
  private reported = 0;
  /** Messages from Home Assistant handled (a listing after every (re)subscription, then changes). */
  private updates = 0;
  private last?: { entity_id: string; kind: string; at: string };

  constructor(private readonly d: HaSourcesDeps) {
    this.remembered = new RememberedStates(d.dataDir);
    this.bySource = new Map(d.sources.map((s) => [s.entity_id, s]));
  }

  async start(): Promise<void> {
    const { client, sources, log } = this.d;
    if (!sources.length) return;
    if (!client) {
      log.warn({ sources: sources.map((s) => s.entity_id) }, 'ha_sources are configured, but there is no Home Assistant connection: they are not followed');
      return;
    }
    this.stopping = new AbortController();
    this.remembered.load();
    client.subscribeMessage<EntitiesMessage>({ type: 'subscribe_entities', entity_ids: sources.map((s) => s.entity_id) }, (m) => {
      this.work = this.work.then(() => this.onMessage(m)).catch((err: unknown) => log.error({ err }, 'could not handle a Home Assistant state'));
    });
    this.timer = setInterval(() => this.keepOnline(), Math.min(60_000, this.d.offlineAfterMs / 3));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    clearInterval(this.timer);
    await this.work;
    await this.remembered.flushed();
  }

  status(): ModuleStatus {
    const { client, sources } = this.d;
    if (!sources.length) return { ready: true, detail: 'none configured (ha_sources)' };
    const list = sources.map((s) => ({ entity_id: s.entity_id, kind: s.kind, device_id: s.device_id, state: this.entities.get(s.entity_id)?.state ?? null }));
    const base = { ready: true, sources: list, reported: this.reported, updates: this.updates, ...(this.last ? { last_report: this.last } : {}) };
    if (!client) return { ...base, detail: 'no Home Assistant connection', warning: 'ha_sources are configured, but there is no Home Assistant connection: falls and calls for help from those entities are not heard' };
    const missing = this.heard ? list.filter((s) => s.state === null).map((s) => s.entity_id) : [];
    if (missing.length) return { ...base, detail: `${missing.length} of ${list.length} entities not found`, warning: `Home Assistant has no entity ${missing.join(', ')}: falls from it are not heard; check ha_sources` };
    return { ...base, detail: `${list.length} entities followed; ${this.reported} reported` };
  }

  private async onMessage(m: EntitiesMessage): Promise<void> {
    this.heard = true;
    const { changed } = this.entities.apply(m);
    for (const st of changed) {
      const source = this.bySource.get(st.entity_id);
      if (source && !this.stopping.signal.aborted) await this.onState(source, st);
    }
    this.updates++;
  }

  private async onState(source: HaSourceConfig, st: EntityState): Promise<void> {
    const v = judge(source, this.remembered.get(source.entity_id), st);
    if (v.offline) this.d.presence.markOffline(source.device_id, `${source.entity_id} is unavailable in Home Assistant`);
    else if (this.available(source.device_id)) this.d.presence.touch(source.device_id, HA_IDENTITY.clientId);
    if (v.firstSight && !isEventEntity(source.entity_id) && st.state === (source.state ?? 'on')) {
      this.d.log.warn({ entity_id: source.entity_id, state: st.state }, 'a source entity is already on when first seen: not reported as a new fall (nothing to compare it with)');
    }
    if (v.fire && !(await this.report(source, v.fire))) return; // stopping: judged again at the next start
    if (v.remember) await this.remembered.set(source.entity_id, v.remember).catch((err: unknown) => this.d.log.error({ err }, 'could not save the last states of ha_sources'));
  }

  /** Stores the fall or call for help; holds while storage cannot take it. False when stopping first. */
  private async report(source: HaSourceConfig, fire: { ts: number; key: string }): Promise<boolean> {
    const eventId = `ha-${createHash('sha256').update(`${source.entity_id}\n${fire.key}`).digest('hex').slice(0, 40)}`;
    let body: Record<string, unknown> = { device_id: source.device_id, event: source.kind, prob: 1, ts: fire.ts, event_id: eventId, ...(source.location ? { location: source.location } : {}) };
    for (;;) {
      if (this.stopping.signal.aborted) return false;
      const o = await this.d.ingest.reportFall(HA_IDENTITY, body, { entityId: source.entity_id });
      // A conflict under this fixed id is the same transition reported before with another time.
      if (o.kind === 'stored' || o.kind === 'duplicate' || o.kind === 'conflict') {
        if (o.kind === 'stored') {
          this.reported++;
          this.last = { entity_id: source.entity_id, kind: source.kind, at: new Date().toISOString() };
          this.d.log.warn({ entity_id: source.entity_id, device_id: source.device_id, kind: source.kind, event_id: eventId }, source.kind === 'help' ? 'call for help from a Home Assistant entity' : 'fall reported by a Home Assistant entity');
        }
        return true;
      }
      if (o.kind === 'invalid' && 'ts' in body) {
        // Home Assistant's clock ahead of the gateway's: the gateway's time it is.
        const { ts: _ts, ...rest } = body;
        body = rest;
        continue;
      }
      const retryAfterSec = o.kind === 'backpressure' ? o.retryAfterSec : o.kind === 'unavailable' || o.kind === 'limited' ? o.retryAfterSec : undefined;
      if (retryAfterSec === undefined) {
        this.d.log.error({ entity_id: source.entity_id, outcome: o }, 'a fall from a Home Assistant entity could not be stored');
        return true;
      }
      await sleep(retryAfterSec * 1000, undefined, { signal: this.stopping.signal }).catch(() => {});
    }
  }

  /** A device is available while none of its source entities is unavailable (and Home Assistant answers). */
  private available(deviceId: string): boolean {
    if (!this.d.client?.ready) return false;
    return this.d.sources.every((s) => s.device_id !== deviceId || this.entities.get(s.entity_id)?.state !== 'unavailable');
  }

  private keepOnline(): void {
    for (const id of new Set(this.d.sources.map((s) => s.device_id))) {
      const known = this.d.sources.some((s) => s.device_id === id && this.entities.get(s.entity_id));
      if (known && this.available(id)) this.d.presence.touch(id, HA_IDENTITY.clientId);
    }
  }
}
