// A stand-in for Home Assistant core and for the Supervisor's proxy in front of it, faithful to HA's
// developer docs and the Supervisor's source for what the gateway uses.
//
// Core (`url`): WebSocket API at /api/websocket (auth_required → auth → auth_ok/auth_invalid;
// result; event; subscribe_events; subscribe_entities (compressed states: the current ones first,
// then diffs, as HA 2022.4+ sends them; state_changed events too); unsubscribe_events; call_service, whose result carries
// `response: null`; fire_event (admin); get_states; person/list; config/auth/list (admin);
// ping/pong; supported_features) and the REST API (POST /api/states/<entity_id> (admin; 400 for an
// invalid entity id or a missing state), GET /api/states, POST /api/events/<event_type>, GET /api/).
//
// Supervisor (`supervisorUrl`, after startSupervisor()): /core/websocket and /core/api/... as the
// Supervisor serves them to add-ons: its own auth phase on SUPERVISOR_TOKEN ("Invalid access"),
// then a proxied connection to Core as the Supervisor's own (admin) user; 502 Bad Gateway while
// Core is down; "401: Unauthorized" for a wrong token on REST; GET /services/mqtt (the broker the
// Mosquitto add-on registered, 400 "Service not enabled" without one).
//
// Tests can make Core forget states and drop connections (a restart; device entities listed in
// `keep` come back with their state and a new last_changed, as Home Assistant restores them), or go
// away (an outage), and change entities (setEntity, removeEntity) as integrations would.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

/** A long-lived access token of an admin user (what a standalone gateway is given). */
export const HA_TOKEN = 'standin-long-lived-access-token';
/** The token the Supervisor hands the add-on as SUPERVISOR_TOKEN. */
export const SUPERVISOR_TOKEN = 'standin-supervisor-token-for-the-addon';
/** The Supervisor's own access token to Core (its system user is an admin). */
const SUPERVISOR_CORE_TOKEN = 'standin-supervisor-own-core-token';

export const HA_VERSION = '2025.11.0';

export interface ServiceCall {
  domain: string;
  service: string;
  service_data: Record<string, unknown>;
}

export interface StandinUser {
  id: string;
  name: string;
  username: string | null;
  is_admin: boolean;
  system_generated: boolean;
}

export interface StandinPerson {
  id: string;
  name: string;
  user_id: string | null;
}

/** HA's valid_entity_id: lowercase domain and object id, no leading/trailing or double underscores. */
export const VALID_ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;

interface Sub {
  ws: WebSocket;
  id: number;
  eventType?: string;
}

/** One entity's state as Home Assistant keeps it (times ISO 8601). */
export interface StandinState {
  state: string;
  attributes: Record<string, unknown>;
  last_changed: string;
  last_updated: string;
}

interface EntitySub {
  ws: WebSocket;
  id: number;
  ids?: Set<string>;
}

/** The compressed state subscribe_entities sends: s, a, c (context id), lc and, when it differs, lu (epoch seconds). */
function compressed(s: StandinState): Record<string, unknown> {
  const lc = Date.parse(s.last_changed) / 1000;
  const lu = Date.parse(s.last_updated) / 1000;
  return { s: s.state, a: s.attributes, c: '01JCAREDIANSTATECTX00000000', lc, ...(lu !== lc ? { lu } : {}) };
}

export class HaStandin {
  states = new Map<string, StandinState>();
  serviceCalls: ServiceCall[] = [];
  firedEvents: { event_type: string; event_data: Record<string, unknown> }[] = [];
  /** Every request the Supervisor's proxy received (method and path), to show what the gateway used. */
  supervisorRequests: string[] = [];
  authFailures = 0;
  supervisorAuthFailures = 0;
  /** Services that do not exist (call_service answers not_found). */
  missingServices = new Set<string>();
  /** call_service answers after this many ms (a slow Home Assistant). */
  callDelayMs = 0;
  /** When false, pings are not answered (a dead connection). */
  answerPings = true;
  users: StandinUser[] = [
    { id: 'c0ffee00d00d4b1e9a1b2c3d4e5f6a7b', name: 'Tom', username: 'tom', is_admin: true, system_generated: false },
    { id: '5e1f0a2b3c4d4e5f8a9b0c1d2e3f4a5b', name: 'Jiwoo', username: 'jiwoo', is_admin: false, system_generated: false },
    { id: '0a0b0c0d0e0f40a1b2c3d4e5f6a7b8c9', name: 'Supervisor', username: null, is_admin: true, system_generated: true },
  ];
  persons: StandinPerson[] = [{ id: 'tom_kim', name: 'Tom Kim', user_id: 'c0ffee00d00d4b1e9a1b2c3d4e5f6a7b' }];
  /** Token → user id; the long-lived token belongs to an admin (Tom). */
  tokens = new Map<string, string>([
    [HA_TOKEN, 'c0ffee00d00d4b1e9a1b2c3d4e5f6a7b'],
    [SUPERVISOR_CORE_TOKEN, '0a0b0c0d0e0f40a1b2c3d4e5f6a7b8c9'],
  ]);
  private server?: Server;
  private wss = new WebSocketServer({ noServer: true });
  private supervisor?: Server;
  private subs: Sub[] = [];
  private entitySubs: EntitySub[] = [];
  private sockets = new Set<WebSocket>();
  private addonSockets = new Set<WebSocket>();
  port = 0;
  supervisorPort = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** What /services/mqtt hands out (the Mosquitto add-on's broker); undefined: no MQTT service. */
  mqttService?: { host: string; port: number; username: string; password: string };

  get supervisorUrl(): string {
    return `http://127.0.0.1:${this.supervisorPort}`;
  }

  get coreUp(): boolean {
    return Boolean(this.server?.listening);
  }

  /** Core comes up (again, on the same port). */
  async start(port = this.port): Promise<void> {
    this.server = createServer((req, res) => void this.rest(req, res, this.userOf(req.headers.authorization)));
    this.server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/api/websocket') return void socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => this.session(ws));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Core going away (an outage): connections dropped, port closed. The Supervisor stays up. */
  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    this.subs = [];
    this.entitySubs = [];
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server?.listening ? this.server.close(() => r()) : r()));
  }

  /**
   * A restart: states set through the REST API are forgotten, clients reconnect. Entities in
   * `keep` (an integration's, such as a radar's) come back with their state and attributes, and a
   * new last_changed, as Home Assistant restores them at start.
   */
  async restart(o: { keep?: string[] } = {}): Promise<void> {
    await this.stop();
    const now = new Date().toISOString();
    const kept = (o.keep ?? []).flatMap((id) => {
      const s = this.states.get(id);
      return s ? [[id, { ...s, last_changed: now, last_updated: now }] as const] : [];
    });
    this.states = new Map(kept);
    await this.start(this.port);
  }

  /**
   * An integration sets an entity's state (last_changed moves only when the state does), and
   * subscribers hear of it: state_changed events and subscribe_entities diffs. While Core is down
   * the state is only kept, as if it changed while nobody was connected.
   */
  setEntity(entityId: string, state: string, attributes: Record<string, unknown> = {}): StandinState {
    const old = this.states.get(entityId);
    const now = new Date().toISOString();
    const s: StandinState = { state, attributes, last_changed: old && old.state === state ? old.last_changed : now, last_updated: now };
    this.states.set(entityId, s);
    this.emitEvent('state_changed', { entity_id: entityId, old_state: old ? { entity_id: entityId, ...old } : null, new_state: { entity_id: entityId, ...s } });
    this.emitEntities(entityId, old ? { c: { [entityId]: this.diff(old, s) } } : { a: { [entityId]: compressed(s) } });
    return s;
  }

  /** An entity removed from Home Assistant. */
  removeEntity(entityId: string): void {
    const old = this.states.get(entityId);
    if (!old) return;
    this.states.delete(entityId);
    this.emitEvent('state_changed', { entity_id: entityId, old_state: { entity_id: entityId, ...old }, new_state: null });
    this.emitEntities(entityId, { r: [entityId] });
  }

  /** What changed, as subscribe_entities sends it: "+" (s, lc or else lu, c, changed attributes), "-" (removed attributes). */
  private diff(old: StandinState, s: StandinState): Record<string, unknown> {
    const add: Record<string, unknown> = { c: '01JCAREDIANSTATECTX00000000' };
    if (old.state !== s.state) add.s = s.state;
    if (old.last_changed !== s.last_changed) add.lc = Date.parse(s.last_changed) / 1000;
    else if (old.last_updated !== s.last_updated) add.lu = Date.parse(s.last_updated) / 1000;
    const changed = Object.fromEntries(Object.entries(s.attributes).filter(([k, v]) => JSON.stringify(old.attributes[k]) !== JSON.stringify(v)));
    if (Object.keys(changed).length) add.a = changed;
    const removed = Object.keys(old.attributes).filter((k) => !(k in s.attributes));
    return { '+': add, ...(removed.length ? { '-': { a: removed } } : {}) };
  }

  private emitEntities(entityId: string, event: Record<string, unknown>): void {
    for (const sub of this.entitySubs) if (!sub.ids || sub.ids.has(entityId)) sub.ws.send(JSON.stringify({ id: sub.id, type: 'event', event }));
  }

  /** The Supervisor in front of Core, as an add-on reaches it (http://supervisor). */
  async startSupervisor(port = this.supervisorPort): Promise<void> {
    this.supervisor = createServer((req, res) => void this.supervisorRest(req, res));
    this.supervisor.on('upgrade', (req, socket, head) => this.supervisorUpgrade(req, socket, head));
    await new Promise<void>((r) => this.supervisor!.listen(port, '127.0.0.1', r));
    this.supervisorPort = (this.supervisor.address() as AddressInfo).port;
  }

  /** Everything down: Core and the Supervisor. */
  async close(): Promise<void> {
    await this.stop();
    for (const ws of this.addonSockets) ws.terminate();
    this.supervisor?.closeAllConnections();
    await new Promise<void>((r) => (this.supervisor?.listening ? this.supervisor.close(() => r()) : r()));
  }

  /**
   * What the companion app sends when a notification button is pressed: the event is fired through
   * the app's webhook, so its context names the phone's HA user.
   */
  pressAction(action: string, userId = this.users[0]!.id): void {
    this.emitEvent('mobile_app_notification_action', { action, tag: action.replace(/^CAREDIAN_(ACK|OMW)_/, 'caredian_'), sourceDeviceID: 'iphone_tom', sourceDeviceName: "Tom's iPhone" }, { user_id: userId });
  }

  /** Open websocket sessions on Core (through the Supervisor, each add-on connection is one). */
  get connected(): number {
    return this.sockets.size;
  }

  private userOf(authorization: string | undefined): StandinUser | undefined {
    const token = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
    const id = token ? this.tokens.get(token) : undefined;
    return this.users.find((u) => u.id === id);
  }

  private personStates(): [string, { state: string; attributes: Record<string, unknown>; last_updated: string }][] {
    return this.persons.map((p) => [`person.${p.id}`, { state: 'home', attributes: { editable: true, id: p.id, friendly_name: p.name, ...(p.user_id ? { user_id: p.user_id } : {}) }, last_updated: new Date().toISOString() }]);
  }

  private emitEvent(eventType: string, data: Record<string, unknown>, context: Record<string, unknown> = {}): void {
    for (const s of this.subs) {
      if (s.eventType && s.eventType !== eventType) continue;
      s.ws.send(JSON.stringify({ id: s.id, type: 'event', event: { event_type: eventType, data, origin: 'REMOTE', time_fired: new Date().toISOString(), context: { id: '01JCAREDIANCTX0000000000000', parent_id: null, user_id: null, ...context } } }));
    }
  }

  private session(ws: WebSocket): void {
    this.sockets.add(ws);
    let user: StandinUser | undefined;
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.subs = this.subs.filter((s) => s.ws !== ws);
      this.entitySubs = this.entitySubs.filter((s) => s.ws !== ws);
    });
    ws.send(JSON.stringify({ type: 'auth_required', ha_version: HA_VERSION }));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { type: string; id?: number; [k: string]: unknown };
      if (!user) {
        user = msg.type === 'auth' ? this.userOf(`Bearer ${String(msg.access_token)}`) : undefined;
        if (user) {
          ws.send(JSON.stringify({ type: 'auth_ok', ha_version: HA_VERSION }));
        } else {
          this.authFailures++;
          ws.send(JSON.stringify({ type: 'auth_invalid', message: 'Invalid access token or password' }));
          ws.close();
        }
        return;
      }
      const result = (success: boolean, result: unknown = null, error?: { code: string; message: string }) => ws.send(JSON.stringify({ id: msg.id, type: 'result', success, ...(success ? { result } : { error }) }));
      const unauthorized = () => result(false, null, { code: 'unauthorized', message: 'Unauthorized' });
      const context = () => ({ id: `01JCTX${String(this.serviceCalls.length).padStart(20, '0')}`, parent_id: null, user_id: user!.id });
      switch (msg.type) {
        case 'supported_features':
          return result(true);
        case 'ping':
          if (this.answerPings) ws.send(JSON.stringify({ id: msg.id, type: 'pong' }));
          return;
        case 'subscribe_events':
          this.subs.push({ ws, id: msg.id!, eventType: msg.event_type as string | undefined });
          return result(true);
        case 'subscribe_entities': {
          const ids = msg.entity_ids as string[] | undefined;
          this.entitySubs.push({ ws, id: msg.id!, ids: ids ? new Set(ids) : undefined });
          result(true);
          // The current states first (only those that exist), then diffs as they come.
          const a = Object.fromEntries([...this.states].filter(([id]) => !ids || ids.includes(id)).map(([id, st]) => [id, compressed(st)]));
          return void ws.send(JSON.stringify({ id: msg.id, type: 'event', event: { a } }));
        }
        case 'unsubscribe_events':
          this.subs = this.subs.filter((s) => !(s.ws === ws && s.id === msg.subscription));
          this.entitySubs = this.entitySubs.filter((s) => !(s.ws === ws && s.id === msg.subscription));
          return result(true);
        case 'call_service': {
          const call = { domain: msg.domain as string, service: msg.service as string, service_data: (msg.service_data ?? {}) as Record<string, unknown> };
          if (this.missingServices.has(`${call.domain}.${call.service}`)) return result(false, null, { code: 'not_found', message: `Service ${call.domain}.${call.service} not found.` });
          this.serviceCalls.push(call);
          // Since 2023.7 the result also says what the service returned: null unless return_response was asked for.
          const answer = { context: context(), response: null };
          if (this.callDelayMs) return void setTimeout(() => result(true, answer), this.callDelayMs);
          return result(true, answer);
        }
        case 'fire_event':
          if (!user.is_admin) return unauthorized();
          this.firedEvents.push({ event_type: msg.event_type as string, event_data: (msg.event_data ?? {}) as Record<string, unknown> });
          this.emitEvent(msg.event_type as string, (msg.event_data ?? {}) as Record<string, unknown>, { user_id: user.id });
          return result(true, { context: context() });
        case 'get_states':
          return result(true, [...this.states, ...this.personStates()].map(([entity_id, s]) => ({ entity_id, ...s })));
        case 'person/list':
          return result(true, { storage: this.persons.map((p) => ({ ...p, device_trackers: [], picture: null })), config: [] });
        case 'config/auth/list':
          if (!user.is_admin) return unauthorized();
          return result(true, this.users.map((u) => ({ ...u, is_owner: u.name === 'Tom', is_active: true, local_only: false, group_ids: [u.is_admin ? 'system-admin' : 'system-users'], credentials: [] })));
        default:
          return result(false, null, { code: 'unknown_command', message: 'Unknown command.' });
      }
    });
  }

  private async rest(req: IncomingMessage, res: ServerResponse, user: StandinUser | undefined): Promise<void> {
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (!user) return json(401, { message: '401: Unauthorized' });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: Record<string, unknown> = {};
    try {
      if (chunks.length) body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
    } catch {
      return json(400, { message: 'Invalid JSON specified.' });
    }
    const url = req.url ?? '';
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^\/api\/states\/([^/?]+)$/.exec(url))) {
      const entityId = decodeURIComponent(m[1]!);
      if (!user.is_admin) return json(401, { message: 'Unauthorized' });
      if (!VALID_ENTITY_ID.test(entityId)) return json(400, { message: 'Invalid entity ID specified.' });
      if (body.state === undefined || body.state === null) return json(400, { message: 'No state specified.' });
      const existed = this.states.has(entityId);
      const s = this.setEntity(entityId, String(body.state), (body.attributes ?? {}) as Record<string, unknown>);
      return json(existed ? 200 : 201, { entity_id: entityId, ...s });
    }
    if (req.method === 'GET' && url === '/api/states') return json(200, [...this.states, ...this.personStates()].map(([entity_id, s]) => ({ entity_id, ...s })));
    if (req.method === 'POST' && (m = /^\/api\/events\/([a-z0-9_]+)$/.exec(url))) {
      if (!user.is_admin) return json(401, { message: 'Unauthorized' });
      this.firedEvents.push({ event_type: m[1]!, event_data: body });
      return json(200, { message: `Event ${m[1]} fired.` });
    }
    if (req.method === 'GET' && url === '/api/') return json(200, { message: 'API running.' });
    json(404, { message: 'Not found' });
  }

  private addonToken(req: IncomingMessage): string {
    const auth = req.headers.authorization;
    return auth ? auth.split(' ').at(-1)! : String(req.headers['x-ha-access'] ?? '');
  }

  /** /core/api/<path>: the add-on's token checked, then the request forwarded to Core as the Supervisor. */
  private async supervisorRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.supervisorRequests.push(`${req.method} ${req.url}`);
    const text = (status: number, body: string) => void res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(body);
    if (req.url === '/services/mqtt' && req.method === 'GET') return this.servicesMqtt(req, res);
    const m = /^\/core\/api\/(.*)$/.exec(req.url ?? '');
    if (!m) return text(404, '404: Not Found');
    if (this.addonToken(req) !== SUPERVISOR_TOKEN) return text(401, '401: Unauthorized');
    if (!this.coreUp) return text(502, '502: Bad Gateway');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      const r = await fetch(`${this.url}/api/${m[1]}`, { method: req.method, headers: { Authorization: `Bearer ${SUPERVISOR_CORE_TOKEN}`, ...(req.headers['content-type'] ? { 'Content-Type': req.headers['content-type'] } : {}) }, body: chunks.length ? Buffer.concat(chunks) : undefined });
      const out = Buffer.from(await r.arrayBuffer());
      res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') ?? 'application/octet-stream' }).end(out);
    } catch {
      text(502, '502: Bad Gateway');
    }
  }

  /**
   * GET /services/mqtt, as the Supervisor answers an add-on with `services: [mqtt:want]`: the
   * broker the Mosquitto add-on registered, or 400 when no add-on provides the service.
   */
  private servicesMqtt(req: IncomingMessage, res: ServerResponse): void {
    const json = (status: number, body: unknown) => void res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (this.addonToken(req) !== SUPERVISOR_TOKEN) return json(401, { result: 'error', message: 'Invalid token for access' });
    if (!this.mqttService) return json(400, { result: 'error', message: 'Service not enabled', data: {} });
    json(200, { result: 'ok', data: { addon: 'core_mosquitto', ssl: false, protocol: '3.1.1', ...this.mqttService } });
  }

  /** /core/websocket: 502 while Core is down; the Supervisor's own auth phase; then a proxied Core connection. */
  private supervisorUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.supervisorRequests.push(`WS ${req.url}`);
    if (req.url !== '/core/websocket') return void socket.destroy();
    if (!this.coreUp) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 15\r\nConnection: close\r\n\r\n502: Bad Gateway');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (addon) => this.proxy(addon));
  }

  private proxy(addon: WebSocket): void {
    this.addonSockets.add(addon);
    let core: WebSocket | undefined;
    const pending: string[] = [];
    let linked = false;
    const closeBoth = () => {
      this.addonSockets.delete(addon);
      if (addon.readyState === WebSocket.OPEN) addon.close();
      if (core && core.readyState !== WebSocket.CLOSED) core.close();
    };
    addon.on('close', closeBoth);
    addon.send(JSON.stringify({ type: 'auth_required', ha_version: HA_VERSION }));
    addon.once('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { type?: string; access_token?: string; api_password?: string };
      if ((msg.api_password ?? msg.access_token) !== SUPERVISOR_TOKEN) {
        this.supervisorAuthFailures++;
        addon.send(JSON.stringify({ type: 'auth_invalid', message: 'Invalid access' }));
        return void addon.close();
      }
      addon.send(JSON.stringify({ type: 'auth_ok', ha_version: HA_VERSION }));
      addon.on('message', (m) => (linked ? core!.send(String(m)) : pending.push(String(m))));
      core = new WebSocket(`${this.url.replace('http', 'ws')}/api/websocket`);
      core.on('error', closeBoth);
      core.on('close', closeBoth);
      core.on('message', (m) => {
        const text = String(m);
        if (linked) return void addon.send(text);
        const t = (JSON.parse(text) as { type?: string }).type;
        if (t === 'auth_required') return void core!.send(JSON.stringify({ type: 'auth', access_token: SUPERVISOR_CORE_TOKEN }));
        if (t !== 'auth_ok') return closeBoth();
        linked = true;
        for (const p of pending.splice(0)) core!.send(p);
      });
    });
  }
}
