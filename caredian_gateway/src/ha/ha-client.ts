// The connection to Home Assistant: home-assistant-js-websocket over the `ws` package for the
// websocket API, fetch for the REST states API. Starts whether or not Home Assistant is up,
// retries forever with backoff, detects dead connections with pings, and says what state it is in.
import { EventEmitter } from 'node:events';
import type { Connection, HassEvent } from 'home-assistant-js-websocket';

// ERR_INVALID_AUTH of home-assistant-js-websocket, which is loaded only when Home Assistant is
// configured (with ws, some 10 MB a standalone gateway does not need).
const ERR_INVALID_AUTH = 2;

async function loadWebsocketClient() {
  const [{ WebSocket }, hass] = await Promise.all([import('ws'), import('home-assistant-js-websocket')]);
  // home-assistant-js-websocket uses the global WebSocket, which Node 20 lacks.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= WebSocket;
  if (hass.ERR_INVALID_AUTH !== ERR_INVALID_AUTH) throw new Error('home-assistant-js-websocket changed ERR_INVALID_AUTH');
  return hass;
}
import type { Config } from '../config/schema.js';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, ModuleStatus } from '../core/module.js';

export interface HaEndpoints {
  wsUrl: string;
  restBase: string;
  token: string;
  /** Through the Supervisor's proxy (an add-on) or straight to Home Assistant (HA_BASE_URL). */
  via?: 'supervisor' | 'direct';
}

/**
 * The Supervisor's proxy (http://supervisor/core/...) when the Supervisor gave us SUPERVISOR_TOKEN;
 * HA_BASE_URL + HA_TOKEN standalone; undefined without either.
 */
export function haEndpoints(c: Config): HaEndpoints | undefined {
  if (c.supervisor_token && (c.mode === 'addon' || !c.ha_base_url)) {
    const base = c.supervisor_url.replace(/\/$/, '');
    return { wsUrl: `${base.replace(/^http/, 'ws')}/core/websocket`, restBase: `${base}/core/api`, token: c.supervisor_token, via: 'supervisor' };
  }
  if (c.ha_base_url && c.ha_token) {
    const base = c.ha_base_url.replace(/\/$/, '');
    return { wsUrl: `${base.replace(/^http/, 'ws')}/api/websocket`, restBase: `${base}/api`, token: c.ha_token, via: 'direct' };
  }
  return undefined;
}

export type HaState = 'connecting' | 'connected' | 'disconnected' | 'auth_invalid';

export interface HaClientOptions {
  requestTimeoutMs: number;
  pingEveryMs?: number;
  backoffMaxMs?: number;
}

export class HaClient extends EventEmitter<{ ready: []; down: [] }> implements GatewayModule {
  readonly name = 'home_assistant';
  state: HaState = 'connecting';
  private conn?: Connection;
  private stopped = false;
  private attempts = 0;
  private lastError?: string;
  private pingTimer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private subscriptions: { eventType: string; handler: (e: HassEvent) => void }[] = [];
  private messageSubscriptions: { message: { type: string; [k: string]: unknown }; handler: (m: unknown) => void }[] = [];

  constructor(
    private readonly ep: HaEndpoints,
    private readonly log: Logger,
    private readonly o: HaClientOptions,
  ) {
    super();
  }

  get ready(): boolean {
    return this.state === 'connected';
  }

  async start(): Promise<void> {
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.conn?.close();
    this.conn = undefined;
  }

  status(): ModuleStatus {
    const refused = this.ep.via === 'supervisor' ? "the Supervisor refused the add-on's token (auth_invalid); restart the add-on" : 'Home Assistant refused the token (auth_invalid); check HA_TOKEN';
    const detail = { connecting: 'connecting', connected: 'connected', disconnected: `disconnected; retrying${this.lastError ? ` (${this.lastError})` : ''}`, auth_invalid: refused }[this.state];
    // Alerts wait in the outbox while Home Assistant is away, so this does not make the gateway
    // unready; but nobody may be told about a fall, which a person must see.
    const down = this.state === 'disconnected' || this.state === 'auth_invalid';
    return { ready: true, detail, state: this.state, via: this.ep.via ?? 'direct', ...(down ? { warning: `Home Assistant unreachable: ${detail}` } : {}) };
  }

  /** Subscribes now and after every reconnect (the library re-subscribes on its own reconnects). */
  subscribe(eventType: string, handler: (e: HassEvent) => void): void {
    this.subscriptions.push({ eventType, handler });
    if (this.conn) void this.conn.subscribeEvents(handler, eventType);
  }

  /**
   * A subscription command (subscribe_entities, subscribe_trigger) made now and after every
   * reconnect; Home Assistant answers each one with the current state first, then changes.
   */
  subscribeMessage<T>(message: { type: string; [k: string]: unknown }, handler: (m: T) => void): void {
    const s = { message, handler: handler as (m: unknown) => void };
    this.messageSubscriptions.push(s);
    if (this.conn) void this.subscribeOne(this.conn, s);
  }

  private async subscribeOne(conn: Connection, s: (typeof this.messageSubscriptions)[number]): Promise<void> {
    try {
      await conn.subscribeMessage(s.handler, s.message, { resubscribe: true });
    } catch (err) {
      this.log.error({ type: s.message.type, reason: (err as { message?: string }).message ?? String(err) }, 'Home Assistant refused a subscription');
    }
  }

  async callService(domain: string, service: string, data: Record<string, unknown>): Promise<void> {
    await this.request({ type: 'call_service', domain, service, service_data: data });
  }

  async fireEvent(eventType: string, data: Record<string, unknown>): Promise<void> {
    await this.request({ type: 'fire_event', event_type: eventType, event_data: data });
  }

  /** POST /api/states/<entity_id> (REST): creates or updates a state Home Assistant does not own. */
  async setState(entityId: string, state: string, attributes: Record<string, unknown>): Promise<void> {
    const r = await fetch(`${this.ep.restBase}/states/${entityId}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${this.ep.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ state, attributes }),
      signal: AbortSignal.timeout(this.o.requestTimeoutMs),
    });
    await r.text();
    if (r.status !== 200 && r.status !== 201) throw new Error(`POST /api/states/${entityId}: HTTP ${r.status}`);
  }

  /** One websocket command; resolves with its result, rejects with Home Assistant's error. */
  async request<T = unknown>(msg: { type: string; [k: string]: unknown }): Promise<T> {
    const conn = this.conn;
    if (!conn || !this.ready) throw new Error('Home Assistant is not connected');
    return withTimeout(conn.sendMessagePromise<T>(msg), this.o.requestTimeoutMs, `${String(msg.type)} timed out`);
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.state = this.attempts === 0 ? 'connecting' : this.state;
    const auth = { wsUrl: this.ep.wsUrl, accessToken: this.ep.token, expired: false, refreshAccessToken: async () => undefined };
    try {
      const { createConnection, createSocket } = await loadWebsocketClient();
      const conn = await createConnection({ createSocket: (options) => createSocket({ ...options, auth: auth as never, setupRetry: 0 }) });
      if (this.stopped) return conn.close();
      // Subscriptions asked for from here on are made at once (on this.conn), not in the loop below.
      const messageSubs = [...this.messageSubscriptions];
      this.conn = conn;
      conn.addEventListener('ready', () => this.onReady(conn));
      conn.addEventListener('disconnected', () => this.onDown('connection lost'));
      conn.addEventListener('reconnect-error', (_c, err) => {
        // The library gives up on invalid auth; start over with our own backoff.
        this.conn = undefined;
        conn.close();
        this.onFailure(err);
      });
      for (const s of this.subscriptions) await conn.subscribeEvents(s.handler, s.eventType);
      for (const s of messageSubs) await this.subscribeOne(conn, s);
      this.onReady(conn);
    } catch (err) {
      this.onFailure(err);
    }
  }

  private onReady(conn: Connection): void {
    const wasDown = this.state !== 'connected';
    this.state = 'connected';
    this.attempts = 0;
    this.lastError = undefined;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => this.ping(conn), this.o.pingEveryMs ?? 30_000);
    this.pingTimer.unref();
    if (wasDown) this.log.info({ url: this.ep.wsUrl }, 'connected to Home Assistant');
    this.emit('ready');
  }

  private onDown(why: string): void {
    if (this.state === 'connected') this.log.warn({ reason: why }, 'Home Assistant connection lost; reconnecting');
    this.state = 'disconnected';
    this.lastError = why;
    clearInterval(this.pingTimer);
    this.emit('down');
  }

  private onFailure(err: unknown): void {
    clearInterval(this.pingTimer);
    this.attempts++;
    if (err === ERR_INVALID_AUTH) {
      if (this.state !== 'auth_invalid') this.log.error({ url: this.ep.wsUrl }, `${this.ep.via === 'supervisor' ? "The Supervisor refused the add-on's token" : 'Home Assistant refused the access token'} (auth_invalid)${this.ep.via === 'supervisor' ? '' : '; check HA_TOKEN'}. Retrying every 5 minutes.`);
      this.state = 'auth_invalid';
      this.schedule(300_000);
      return;
    }
    this.lastError = 'cannot connect';
    if (this.state === 'connected' || this.attempts === 1) this.log.warn({ url: this.ep.wsUrl }, 'cannot reach Home Assistant; retrying with backoff');
    this.state = 'disconnected';
    this.emit('down');
    const base = Math.min(this.o.backoffMaxMs ?? 60_000, 500 * 2 ** Math.min(this.attempts, 10));
    this.schedule(base / 2 + Math.random() * (base / 2));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.connect(), ms);
    this.retryTimer.unref();
  }

  private ping(conn: Connection): void {
    withTimeout(conn.ping(), Math.min(10_000, this.o.pingEveryMs ?? 30_000), 'ping timed out').catch(() => {
      this.log.warn('Home Assistant did not answer a ping; reconnecting');
      this.onDown('ping timeout');
      conn.reconnect(true);
    });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(why)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(JSON.stringify(e)));
      },
    );
  });
}
