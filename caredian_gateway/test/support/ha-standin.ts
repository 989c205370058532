// A stand-in for Home Assistant core, faithful to its developer docs for what the gateway uses:
// WebSocket API (auth_required → auth → auth_ok/auth_invalid; result; event; subscribe_events;
// unsubscribe_events; call_service; fire_event; ping/pong; supported_features) and the REST API
// (POST /api/states/<entity_id>, GET /api/states, POST /api/events/<event_type>).
// Tests can make it forget states and drop connections (a restart), or stop answering (an outage).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export const HA_TOKEN = 'standin-long-lived-access-token';

export interface ServiceCall {
  domain: string;
  service: string;
  service_data: Record<string, unknown>;
}

interface Sub {
  ws: WebSocket;
  id: number;
  eventType?: string;
}

export class HaStandin {
  states = new Map<string, { state: string; attributes: Record<string, unknown>; last_updated: string }>();
  serviceCalls: ServiceCall[] = [];
  firedEvents: { event_type: string; event_data: Record<string, unknown> }[] = [];
  authFailures = 0;
  /** Services that do not exist (call_service answers not_found). */
  missingServices = new Set<string>();
  /** call_service answers after this many ms (a slow Home Assistant). */
  callDelayMs = 0;
  /** When false, pings are not answered (a dead connection). */
  answerPings = true;
  private server?: Server;
  private wss?: WebSocketServer;
  private subs: Sub[] = [];
  private sockets = new Set<WebSocket>();
  port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(port = this.port): Promise<void> {
    this.server = createServer((req, res) => void this.rest(req, res));
    this.wss = new WebSocketServer({ server: this.server, path: '/api/websocket' });
    this.wss.on('connection', (ws) => this.session(ws));
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Home Assistant going away (an outage): connections dropped, port closed. */
  async stop(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    this.subs = [];
    this.wss?.close();
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** A restart: states set through the REST API are forgotten, clients reconnect. */
  async restart(): Promise<void> {
    await this.stop();
    this.states.clear();
    await this.start(this.port);
  }

  /** What the companion app sends when a notification button is pressed. */
  pressAction(action: string, extra: Record<string, unknown> = {}): void {
    this.emitEvent('mobile_app_notification_action', { action, ...extra }, { user_id: 'user-grandson' });
  }

  get connected(): number {
    return this.sockets.size;
  }

  private emitEvent(eventType: string, data: Record<string, unknown>, context: Record<string, unknown> = {}): void {
    for (const s of this.subs) {
      if (s.eventType && s.eventType !== eventType) continue;
      s.ws.send(JSON.stringify({ id: s.id, type: 'event', event: { event_type: eventType, data, origin: 'REMOTE', time_fired: new Date().toISOString(), context: { id: 'ctx', parent_id: null, user_id: null, ...context } } }));
    }
  }

  private session(ws: WebSocket): void {
    this.sockets.add(ws);
    let authed = false;
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.subs = this.subs.filter((s) => s.ws !== ws);
    });
    ws.send(JSON.stringify({ type: 'auth_required', ha_version: '2025.11.0' }));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { type: string; id?: number; [k: string]: unknown };
      if (!authed) {
        if (msg.type === 'auth' && msg.access_token === HA_TOKEN) {
          authed = true;
          ws.send(JSON.stringify({ type: 'auth_ok', ha_version: '2025.11.0' }));
        } else {
          this.authFailures++;
          ws.send(JSON.stringify({ type: 'auth_invalid', message: 'Invalid access token or password' }));
          ws.close();
        }
        return;
      }
      const result = (success: boolean, result: unknown = null, error?: { code: string; message: string }) => ws.send(JSON.stringify({ id: msg.id, type: 'result', success, ...(success ? { result } : { error }) }));
      switch (msg.type) {
        case 'supported_features':
          return result(true);
        case 'ping':
          if (this.answerPings) ws.send(JSON.stringify({ id: msg.id, type: 'pong' }));
          return;
        case 'subscribe_events':
          this.subs.push({ ws, id: msg.id!, eventType: msg.event_type as string | undefined });
          return result(true);
        case 'unsubscribe_events':
          this.subs = this.subs.filter((s) => !(s.ws === ws && s.id === msg.subscription));
          return result(true);
        case 'call_service': {
          const call = { domain: msg.domain as string, service: msg.service as string, service_data: (msg.service_data ?? {}) as Record<string, unknown> };
          if (this.missingServices.has(`${call.domain}.${call.service}`)) return result(false, null, { code: 'not_found', message: `Service ${call.domain}.${call.service} not found.` });
          this.serviceCalls.push(call);
          if (this.callDelayMs) {
            setTimeout(() => result(true, { context: { id: `ctx-${this.serviceCalls.length}` } }), this.callDelayMs);
            return;
          }
          return result(true, { context: { id: `ctx-${this.serviceCalls.length}` } });
        }
        case 'fire_event':
          this.firedEvents.push({ event_type: msg.event_type as string, event_data: (msg.event_data ?? {}) as Record<string, unknown> });
          this.emitEvent(msg.event_type as string, (msg.event_data ?? {}) as Record<string, unknown>);
          return result(true, { context: { id: 'ctx-fire' } });
        default:
          return result(false, null, { code: 'unknown_command', message: 'Unknown command.' });
      }
    });
  }

  private async rest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
    if (req.headers.authorization !== `Bearer ${HA_TOKEN}`) return json(401, { message: '401: Unauthorized' });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? (JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>) : {};
    const url = req.url ?? '';
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && (m = /^\/api\/states\/([a-z_]+\.[a-z0-9_]+)$/.exec(url))) {
      if (typeof body.state !== 'string') return json(400, { message: 'No state specified.' });
      const existed = this.states.has(m[1]!);
      const s = { entity_id: m[1]!, state: body.state, attributes: (body.attributes ?? {}) as Record<string, unknown>, last_updated: new Date().toISOString() };
      this.states.set(m[1]!, s);
      return json(existed ? 200 : 201, s);
    }
    if (req.method === 'GET' && url === '/api/states') return json(200, [...this.states].map(([entity_id, s]) => ({ entity_id, ...s })));
    if (req.method === 'POST' && (m = /^\/api\/events\/([a-z0-9_]+)$/.exec(url))) {
      this.firedEvents.push({ event_type: m[1]!, event_data: body });
      return json(200, { message: `Event ${m[1]} fired.` });
    }
    if (req.method === 'GET' && url === '/api/') return json(200, { message: 'API running.' });
    json(404, { message: 'Not found' });
  }
}
