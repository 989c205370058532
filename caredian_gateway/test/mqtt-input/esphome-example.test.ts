// The ESPHome examples (examples/esphome/ at the repository root): the messages their
// mqtt.publish_json actions build, evaluated line by line with sample sensor readings, go through
// the real MQTT input over a real broker (with the documented ACL) and are stored and alerted with
// nothing refused. An edit to an example that the gateway would refuse, or that this test cannot
// read, fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Mosquitto } from '../../src/devtools/mosquitto.js';
import type { StoredEvent } from '../../src/domain/records.js';
import { startGateway, waitFor, type Harness } from '../support/harness.js';
import { DOCUMENTED_ACL, MqttPeer } from './support.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const DIR = join(process.cwd(), '..', 'examples', 'esphome');
const PASSWORD = 'device-password-0123';
const GW = { username: 'addons', password: 'gateway-password-0123' };

interface Lambda {
  lambda: string;
}
type Node = unknown;

/** Reads an ESPHome YAML as ESPHome does: substitutions applied, !secret and !lambda kept as markers. */
function readExample(file: string): { doc: Record<string, Node>; subs: Record<string, string> } {
  const tags = [
    { tag: '!secret', resolve: (s: string) => `<secret ${s}>` },
    { tag: '!lambda', resolve: (s: string): Lambda => ({ lambda: s }) },
  ];
  const text = readFileSync(join(DIR, file), 'utf8');
  const subs = (parse(text, { customTags: tags }) as { substitutions: Record<string, string> }).substitutions;
  const substituted = text.replace(/\$\{(\w+)\}/g, (_, k: string) => {
    if (!(k in subs)) throw new Error(`${file}: unknown substitution ${k}`);
    return subs[k]!;
  });
  return { doc: parse(substituted, { customTags: tags }) as Record<string, Node>, subs };
}

/** Every value under `key` anywhere in the tree, with the script it sits in (if any). */
function findAll(node: Node, key: string, script?: string, out: { value: Record<string, Node>; script?: string }[] = []) {
  if (Array.isArray(node)) for (const x of node) findAll(x, key, script, out);
  else if (node && typeof node === 'object') {
    const o = node as Record<string, Node>;
    const inScript = typeof o.id === 'string' && Array.isArray(o.then) && 'mode' in o ? o.id : script;
    for (const [k, v] of Object.entries(o)) {
      if (k === key) out.push({ value: v as Record<string, Node>, script: inScript });
      else findAll(v, key, inScript, out);
    }
  }
  return out;
}

interface Env {
  params: Record<string, string>;
  readings: Record<string, number>;
  globals: Record<string, number>;
  now: number;
}

/** The C++ of a publish_json payload, the subset the examples use: `[if (cond)] root["k"] = expr;`. */
function evaluate(payload: string, env: Env): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const raw of payload.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = /^(?:if \((.+)\) )?root\["(\w+)"\] = (.+);$/.exec(line);
    if (!m) throw new Error(`this test cannot evaluate the example's line: ${line}`);
    if (m[1] !== undefined && !condition(m[1], env)) continue;
    root[m[2]!] = expr(m[3]!, env);
  }
  return root;
}

function condition(c: string, env: Env): boolean {
  if (c === 'id(sntp_time).now().is_valid()') return true;
  const nan = /^!std::isnan\((.+)\)$/.exec(c);
  if (nan) return !Number.isNaN(expr(nan[1]!, env));
  throw new Error(`this test cannot evaluate the example's condition: ${c}`);
}

function expr(e: string, env: Env): unknown {
  let m: RegExpExecArray | null;
  if ((m = /^"((?:[^"\\]|\\.)*)"$/.exec(e))) return m[1]!.replace(/\\(.)/g, '$1');
  if (/^-?\d+(\.\d+)?$/.test(e)) return Number(e);
  if (e === 'id(sntp_time).now().timestamp') return env.now;
  if ((m = /^id\((\w+)\)\.state$/.exec(e))) return reading(env, m[1]!);
  if ((m = /^id\((\w+)\)\+\+$/.exec(e))) return env.globals[m[1]!]!++;
  if ((m = /^id\((\w+)\)$/.exec(e))) return env.globals[m[1]!];
  if ((m = /^str_sprintf\((.+)\)$/.exec(e))) {
    const [fmt, ...args] = splitArgs(m[1]!).map((a) => expr(a, env));
    return sprintf(String(fmt), args);
  }
  if (/^[a-z_]\w*$/.test(e) && e in env.params) return env.params[e];
  throw new Error(`this test cannot evaluate the example's expression: ${e}`);
}

function reading(env: Env, id: string): number {
  if (!(id in env.readings)) throw new Error(`no sample reading for ${id}`);
  return env.readings[id]!;
}

function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (!quoted && ch === '(') depth++;
    if (!quoted && ch === ')') depth--;
    if (!quoted && depth === 0 && ch === ',') {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  return [...out, cur.trim()];
}

function sprintf(fmt: string, args: unknown[]): string {
  let i = 0;
  return fmt.replace(/%(0?\d*)([uxds])/g, (_, width: string, conv: string) => {
    const v = args[i++];
    const s = conv === 'x' ? (Number(v) >>> 0).toString(16) : String(v);
    return width ? s.padStart(Number(width), width.startsWith('0') ? '0' : ' ') : s;
  });
}

interface Message {
  file: string;
  deviceId: string;
  topic: string;
  qos: number;
  body: Record<string, unknown>;
}

/** Every message an example publishes: each publish_json, once per script call site that runs it. */
function messagesOf(file: string): Message[] {
  const { doc, subs } = readExample(file);
  const env: Env = { params: {}, readings: { wifi_rssi: -61, uptime_s: 3600, battery_level: 76.5 }, globals: { boot_id: 0x1234abcd, report_seq: 0 }, now: Math.floor(Date.now() / 1000) };
  const calls = findAll(doc, 'script.execute').map((c) => c.value as Record<string, string>);
  return findAll(doc, 'mqtt.publish_json').flatMap(({ value: p, script }) => {
    const sites = script ? calls.filter((c) => c.id === script) : [{}];
    if (script && !sites.length) throw new Error(`${file}: script ${script} is never run`);
    return sites.map((site) => {
      const { id: _id, ...params } = site as Record<string, string>;
      return { file, deviceId: subs.device_id!, topic: String(p.topic), qos: Number(p.qos ?? 0), body: evaluate(String(p.payload), { ...env, params }) };
    });
  });
}

const examples = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && !f.startsWith('secrets'));
const messages = examples.flatMap(messagesOf);
const deviceIds = [...new Set(messages.map((m) => m.deviceId))];

let broker: Mosquitto;
let h: Harness;
let hook: WebhookReceiver;
const stored = (pred: (e: StoredEvent) => boolean) => h.gw.store.readAfter(0, 100_000).filter(pred);

beforeAll(async () => {
  broker = await Mosquitto.create([GW, ...deviceIds.map((username) => ({ username, password: PASSWORD }))], { acl: DOCUMENTED_ACL });
  hook = new WebhookReceiver();
  await hook.start();
  h = await startGateway({ MQTT_URL: broker.url, MQTT_USERNAME: GW.username, MQTT_PASSWORD: GW.password, MQTT_INGEST: 'true', DEVICES_JSON: JSON.stringify(deviceIds.map((device_id) => ({ device_id }))), ALERT_WEBHOOKS_JSON: JSON.stringify([{ url: hook.url }]) });
  await waitFor(() => (h.gw.readiness.evaluate().checks.mqtt as { state?: string }).state === 'connected', 10_000, 'MQTT connected');
});
afterAll(async () => {
  await h?.close();
  await hook?.stop();
  await broker?.destroy();
});

test('the examples: a fall radar with a help button, and a wearable; MQTT only, reports at QoS 1 under their own id', () => {
  expect(examples.sort()).toEqual(['fall-radar.yaml', 'wearable.yaml']);
  for (const f of examples) {
    const { doc, subs } = readExample(f);
    // No native API: without Home Assistant connecting to it the device would reboot every 15 minutes.
    expect([f, 'api' in doc]).toEqual([f, false]);
    expect(doc.mqtt).toMatchObject({ username: subs.device_id, client_id: subs.device_id, discovery: false });
  }
  const topics = messages.map((m) => [m.file, m.topic.replace(m.deviceId, '<id>'), m.qos, m.body.event ?? null]);
  expect(topics).toEqual(
    expect.arrayContaining([
      ['fall-radar.yaml', 'caredian/<id>/fall', 1, 'fall'],
      ['fall-radar.yaml', 'caredian/<id>/fall', 1, 'help'],
      ['fall-radar.yaml', 'caredian/<id>/heartbeat', 0, null],
      ['wearable.yaml', 'caredian/<id>/fall', 1, 'help'],
      ['wearable.yaml', 'caredian/<id>/heartbeat', 0, null],
    ]),
  );
  expect(messages).toHaveLength(5);
});

test('every message the examples build is accepted by the real MQTT input: stored, alerted, nothing refused', async () => {
  const peers = new Map<string, MqttPeer>();
  try {
    for (const id of deviceIds) peers.set(id, await MqttPeer.connect(broker.url, { username: id, password: PASSWORD }, [`caredian/${id}/error`]));
    // The input subscribes as the gateway connects: a first heartbeat from each device shows it is listening.
    for (const m of messages.filter((x) => x.topic.endsWith('/heartbeat'))) {
      await waitFor(async () => {
        await peers.get(m.deviceId)!.client.publishAsync(m.topic, JSON.stringify(m.body), { qos: m.qos as 0 | 1 });
        return stored((e) => e.kind === 'heartbeat' && e.device_id === m.deviceId).length > 0;
      }, 10_000, `a heartbeat of ${m.file}`);
    }
    for (const m of messages.filter((x) => x.topic.endsWith('/fall'))) await peers.get(m.deviceId)!.client.publishAsync(m.topic, JSON.stringify(m.body), { qos: m.qos as 0 | 1 });
    const reports = messages.filter((x) => x.topic.endsWith('/fall'));
    await waitFor(() => reports.every((m) => hook.ofType('fall_detected', String(m.body.event_id)).length === 1), 10_000, 'every report alerted');

    for (const m of reports) {
      expect(stored((e) => e.kind === 'fall' && e.event_id === m.body.event_id)).toEqual([expect.objectContaining({ device_id: m.deviceId, event: m.body.event, client_id: 'mqtt' })]);
      expect(hook.ofType('fall_detected', String(m.body.event_id))[0]).toMatchObject(m.body.event === 'help' ? { kind: 'help' } : { source: 'sensor' });
    }
    const beats = stored((e) => e.kind === 'heartbeat');
    expect(beats.find((e) => e.device_id === 'hallway-radar')).toMatchObject({ fw: '1.0.0', rssi: -61, uptime_s: 3600 });
    expect(beats.find((e) => e.device_id === 'pendant-kim')).toMatchObject({ fw: '1.0.0', battery: 76.5, rssi: -61 });
    expect(reports.map((m) => m.body.event_id)).toEqual(expect.arrayContaining(['hallway-radar-1234abcd-0', 'hallway-radar-1234abcd-1', 'pendant-kim-1234abcd-0']));
    for (const [id, p] of peers) expect([id, p.all]).toEqual([id, []]);
  } finally {
    for (const p of peers.values()) await p.close();
  }
});
