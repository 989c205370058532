// The fall-response blueprint: valid YAML with Home Assistant's `!input` tag, selectors that offer
// the gateway's fall entities, and a loop that ends when the fall is acknowledged.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse, type ScalarTag } from 'yaml';
import { HaEntities } from '../../src/ha/ha-entities.js';

const REL = 'blueprints/automation/caredian/fall_response.yaml';
const text = readFileSync(resolve(process.cwd(), '..', REL), 'utf8');

class Input {
  constructor(readonly name: string) {}
}
const inputTag: ScalarTag = { tag: '!input', resolve: (name: string) => new Input(name) };
const doc = parse(text, { customTags: [inputTag] }) as {
  blueprint: { name: string; domain: string; source_url: string; input: Record<string, { name: string; default?: unknown; selector: Record<string, Record<string, unknown>> }> };
  triggers: Record<string, unknown>[];
  actions: Record<string, unknown>[];
  variables: Record<string, unknown>;
  mode: string;
};
const inputs = doc.blueprint.input;

/** Every value in the document, depth first. */
function* walk(v: unknown): Generator<unknown> {
  yield v;
  if (Array.isArray(v)) for (const x of v) yield* walk(x);
  else if (v && typeof v === 'object' && !(v instanceof Input)) for (const x of Object.values(v)) yield* walk(x);
}
const all = [...walk({ triggers: doc.triggers, actions: doc.actions, variables: doc.variables })];
const actionsUsed = all.filter((v): v is { action: string } => typeof (v as { action?: unknown })?.action === 'string').map((v) => v.action);

test('an automation blueprint whose source_url is this file in the repository', () => {
  expect(doc.blueprint.domain).toBe('automation');
  expect(doc.blueprint.source_url).toBe(`https://github.com/caredian/caredian-gateway/blob/main/${REL}`);
  expect(doc.mode).toBe('single');
});

test('the fall sensor selector offers the entities the gateway publishes (binary_sensor, device class safety)', () => {
  const entities = new HaEntities(undefined as never, undefined as never, () => [], undefined as never);
  const fallEntity = entities.entityIds('band-7').fall;
  expect(fallEntity).toBe('binary_sensor.caredian_band_7_fall');
  expect(inputs.fall_sensor!.selector).toEqual({ entity: { filter: [{ domain: fallEntity.split('.')[0], device_class: 'safety' }] } });
  expect(inputs.fall_sensor).not.toHaveProperty('default');
});

test('the other inputs: lights, speakers, a TTS engine, phones of people, the repeat interval — all optional', () => {
  expect(inputs.lights!.selector).toEqual({ entity: { multiple: true, filter: [{ domain: 'light' }] } });
  expect(inputs.speakers!.selector).toEqual({ entity: { multiple: true, filter: [{ domain: 'media_player' }] } });
  expect(inputs.tts_engine!.selector).toEqual({ entity: { filter: [{ domain: 'tts' }] } });
  expect(inputs.people!.selector).toEqual({ device: { multiple: true, filter: [{ integration: 'mobile_app' }] } });
  expect(inputs.repeat_minutes!.selector.number).toMatchObject({ min: 1, unit_of_measurement: 'min' });
  for (const k of ['lights', 'speakers', 'tts_engine', 'people', 'repeat_minutes']) expect([k, 'default' in inputs[k]!]).toEqual([k, true]);
});

test('every !input names a declared input, and every input is used', () => {
  const used = new Set(all.filter((v): v is Input => v instanceof Input).map((v) => v.name));
  expect([...used].sort()).toEqual(Object.keys(inputs).sort());
});

test('triggered by the fall sensor turning on; lights, announcement and phone notifications until it turns off', () => {
  expect(doc.triggers).toEqual([{ trigger: 'state', entity_id: new Input('fall_sensor'), not_from: ['unavailable', 'unknown'], to: 'on' }]);
  expect(actionsUsed).toEqual(expect.arrayContaining(['light.turn_on', 'tts.speak']));
  expect(actionsUsed.filter((a) => a.startsWith('notify.mobile_app_{{'))).toHaveLength(2);
  const loop = doc.actions.find((a) => 'repeat' in a)!.repeat as { sequence: Record<string, unknown>[]; until: unknown[] };
  expect(loop.until).toEqual([{ condition: 'state', entity_id: new Input('fall_sensor'), state: 'off' }]);
  const wait = loop.sequence.find((s) => 'wait_for_trigger' in s)!;
  expect(wait).toMatchObject({ wait_for_trigger: [{ trigger: 'state', entity_id: new Input('fall_sensor'), to: 'off' }], continue_on_timeout: true });
  // After the loop, its notifications are taken off the phones.
  expect(JSON.stringify(doc.actions.at(-1))).toContain('clear_notification');
});

test('it reads only attributes the gateway publishes on the fall entity', () => {
  const attrs = [...text.matchAll(/state_attr\(fall_sensor, '([a-z_]+)'\)/g)].map((m) => m[1]);
  expect([...new Set(attrs)].sort()).toEqual(['device_id', 'device_name', 'location', 'person']);
});

test("DOCS.md links the blueprint with Home Assistant's import redirect", () => {
  const docs = readFileSync('DOCS.md', 'utf8');
  expect(docs).toContain(`https://my.home-assistant.io/redirect/blueprint_import/?blueprint_url=${encodeURIComponent(doc.blueprint.source_url)}`);
});
