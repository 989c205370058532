// Placement in the contract: the metadata's `placements` (detector, knobs, model file) and how a
// chunk's placement is found (its own field, what the device last declared, the devices option,
// else unknown), through real loopback HTTP with metadata fixtures over the shipped model file.
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL_PATH, FallInferenceModule } from '../../src/inference/inference-module.js';
import { metaPathFor, readModelMeta } from '../../src/inference/model-meta.js';
import { describeRule, modelFiles, placementRules } from '../../src/inference/placement-rules.js';
import { DeviceRegistry } from '../../src/devices/registry.js';
import { GatewayBus } from '../../src/domain/bus-events.js';
import { createLogger } from '../../src/core/logger.js';
import { PLACEMENTS } from '../../src/config/schema.js';
import { ADMIN_TOKEN, LogSink, startGateway, tempDir, type Harness } from '../support/harness.js';
import { sisfallTrial } from '../support/sisfall.js';

const SHIPPED_META = metaPathFor(DEFAULT_MODEL_PATH);
/** The shipped metadata with fixed default knobs and no placements of its own (as 1.x metadata is). */
const shipped = (): Record<string, unknown> => {
  const { placements: _, ...m } = JSON.parse(readFileSync(SHIPPED_META, 'utf8'));
  return { ...m, decision: { threshold: 0.86, smooth_k: 1, sustain_k: 1 } };
};

/** A model folder: the shipped model as m.onnx (and under `copies`), with `meta` merged over the shipped metadata. */
function modelDir(meta: Record<string, unknown>, copies: string[] = []): string {
  const dir = tempDir('placements-');
  for (const name of ['m.onnx', ...copies]) copyFileSync(DEFAULT_MODEL_PATH, join(dir, name));
  writeFileSync(join(dir, 'm.meta.json'), JSON.stringify({ ...shipped(), ...meta }));
  return join(dir, 'm.onnx');
}

describe('the metadata', () => {
  const withPlacements = (placements: unknown) => {
    const path = metaPathFor(modelDir({ placements }));
    return () => readModelMeta(path);
  };

  test('metadata without placements (1.x): every placement is the model with `decision`', () => {
    const path = modelDir({});
    const meta = readModelMeta(metaPathFor(path));
    expect(meta.placements).toBeUndefined();
    const rules = placementRules(meta, path);
    for (const p of PLACEMENTS) expect(rules[p]).toEqual({ detector: 'model', impactConfirm: 0, threshold: 0.86, smoothK: 1, sustainK: 1, modelPath: path, sha256: meta.sha256 });
    expect(modelFiles(meta, rules, path)).toEqual([{ path, sha256: meta.sha256 }]);
  });

  test('a placement not listed takes unknown; knobs not given are decision; a file is beside the metadata', () => {
    const sha = 'a'.repeat(64);
    const meta = { ...readModelMeta(metaPathFor(modelDir({}))), placements: { unknown: { detector: 'either' as const, threshold: 0.7 }, wrist: { detector: 'model' as const, threshold: 0.95, smooth_k: 2, sustain_k: 3, file: 'w.onnx', sha256: sha }, ankle: { detector: 'threshold' as const, file: 'a.onnx', sha256: sha } } };
    const rules = placementRules(meta, '/models/m.onnx');
    expect(rules.hip).toEqual(rules.unknown);
    expect(rules.unknown).toMatchObject({ detector: 'either', threshold: 0.7, smoothK: meta.decision.smooth_k, sustainK: meta.decision.sustain_k, modelPath: '/models/m.onnx' });
    expect(rules.wrist).toEqual({ detector: 'model', impactConfirm: 0, threshold: 0.95, smoothK: 2, sustainK: 3, modelPath: '/models/w.onnx', sha256: sha });
    expect(describeRule(rules.wrist, '/models/m.onnx')).toBe('model 0.95/2/3 (w.onnx)');
    expect(describeRule(rules.ankle, '/models/m.onnx')).toBe('threshold');
    const confirmed = placementRules({ ...meta, placements: { unknown: { detector: 'either' as const, threshold: 0.9, impact_confirm: 0.3 } } }, '/models/m.onnx');
    expect(confirmed.neck).toMatchObject({ detector: 'either', impactConfirm: 0.3 });
    expect(describeRule(confirmed.neck, '/models/m.onnx')).toBe(`either 0.9/${meta.decision.smooth_k}/${meta.decision.sustain_k} confirm 0.3`);
    // Each file once; the threshold-only placement's own file only for the evaluation.
    expect(modelFiles(meta, rules, '/models/m.onnx').map((f) => f.path)).toEqual(['/models/m.onnx', '/models/w.onnx']);
    expect(modelFiles(meta, rules, '/models/m.onnx', true).map((f) => f.path)).toEqual(['/models/m.onnx', '/models/w.onnx', '/models/a.onnx']);
    // The gateway's knobs replace the model's at every placement; the detectors stay.
    const over = placementRules(meta, '/models/m.onnx', { sustainK: 9 });
    expect(PLACEMENTS.map((p) => over[p].sustainK)).toEqual(PLACEMENTS.map(() => 9));
    expect(over.wrist).toMatchObject({ detector: 'model', threshold: 0.95, sustainK: 9 });
    expect(over.ankle.detector).toBe('threshold');
  });

  test.each([
    ['an unknown placement', { arm: { detector: 'model' } }, /placements: Unrecognized key: "arm"/],
    ['an unknown detector', { wrist: { detector: 'magic' } }, /placements\.wrist\.detector: detector must be one of model, threshold, either/],
    ['a file without its sha256', { wrist: { detector: 'model', file: 'w.onnx' } }, /placements\.wrist: a placement with its own model file needs that file's sha256/],
    ['a file outside the model folder', { wrist: { detector: 'model', file: '../w.onnx', sha256: 'a'.repeat(64) } }, /placements\.wrist\.file: must be a file name in the model folder/],
    ['a threshold above 1', { wrist: { detector: 'model', threshold: 1.5 } }, /placements\.wrist\.threshold/],
    ['a smoothing of 0', { wrist: { detector: 'model', smooth_k: 0 } }, /placements\.wrist\.smooth_k/],
    ['impact_confirm without either', { wrist: { detector: 'model', impact_confirm: 0.2 } }, /placements\.wrist: impact_confirm needs detector either/],
    ['impact_confirm above 1', { wrist: { detector: 'either', impact_confirm: 2 } }, /placements\.wrist\.impact_confirm/],
  ])('refused: %s', (_name, placements, why) => {
    expect(withPlacements(placements)).toThrow(why);
  });

  test('the threshold detector needs the acceleration channels', () => {
    const gyroOnly = { requires_gyro: true, channels: [0, 1, 2].map((axis) => ({ name: `g${axis}`, source: 'gyro', axis, unit: 'deg/s' })), placements: { ankle: { detector: 'threshold' } } };
    expect(() => readModelMeta(metaPathFor(modelDir(gyroOnly)))).toThrow(/the threshold detector .* needs the acc x, y and z channels/);
  });
});

test('the registry remembers the placement a device declared, across a restart; removing the device forgets it', async () => {
  const dir = tempDir();
  const log = createLogger({ level: 'warn', json: true }, new LogSink());
  const a = new DeviceRegistry(dir, new GatewayBus(log), log, 60_000);
  await a.start();
  a.declarePlacement('band-1', 'wrist', 'esp32-01');
  expect(a.placementOf('band-1')).toBe('wrist');
  expect(a.list()).toEqual([expect.objectContaining({ device_id: 'band-1', placement: 'wrist', client_id: 'esp32-01', online: true })]);
  a.declarePlacement('band-1', 'pocket');
  await a.stop();
  const b = new DeviceRegistry(dir, new GatewayBus(log), log, 60_000);
  await b.start();
  expect(b.placementOf('band-1')).toBe('pocket');
  b.remove('band-1');
  expect(b.placementOf('band-1')).toBeUndefined();
  await b.stop();
});

describe('through the gateway (metadata fixture: ankle threshold only; wrist a model that never fires; neck either with its own file; chest either, the same file; hip and pocket either with a model that never fires itself and confirms impacts at 1 and 0.05)', () => {
  let h: Harness;
  let token: string;
  let neckSha: string;
  beforeAll(async () => {
    neckSha = shipped().sha256 as string; // the copy is the same bytes
    const model = modelDir(
      {
        version: '2.0.0-test',
        placements: {
          ankle: { detector: 'threshold' },
          wrist: { detector: 'model', sustain_k: 50 },
          neck: { detector: 'either', sustain_k: 50, file: 'fallnet-neck.onnx', sha256: neckSha },
          chest: { detector: 'either', file: 'fallnet-neck.onnx', sha256: neckSha },
          hip: { detector: 'either', sustain_k: 50, impact_confirm: 1 },
          pocket: { detector: 'either', sustain_k: 50, impact_confirm: 0.05 },
        },
      },
      ['fallnet-neck.onnx'],
    );
    const devices = [
      { device_id: 'cfg-ankle', placement: 'ankle' },
      { device_id: 'cfg-ankle-2', placement: 'ankle' },
      { device_id: 'cfg-none', name: 'No placement' },
    ];
    h = await startGateway({ FALL_MODEL_PATH: model, DEVICES_JSON: JSON.stringify(devices) });
    token = await h.token('events:imu:ingest');
  });
  afterAll(() => h.close());

  const post = async (body: Record<string, unknown>) => {
    const r = await fetch(`${h.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    return { status: r.status, body: (await r.json()) as { ok: boolean; accepted: number; falls: { id: string }[]; error?: string; error_description?: string } };
  };
  let t0 = 1_760_100_000;
  /** Streams a real fall in 1 s chunks; `placementFor(i)` is the chunk's field (undefined: none). Returns the falls it stored. */
  async function fall(device: string, placementFor: (i: number) => string | undefined) {
    const t = sisfallTrial('F01_SA10_R01');
    const seq = h.gw.store.lastCommittedSeq;
    t0 += 1000;
    for (let i = 0; i < t.acc.length; i += 50) {
      const p = placementFor(i);
      const r = await post({ device_id: device, rate_hz: 50, t0: t0 + i / 50, acc: t.acc.slice(i, i + 50), ...(p !== undefined ? { placement: p } : {}) });
      expect(r.status).toBe(200);
    }
    return h.gw.store.readAfter(seq, 1000).filter((e) => e.kind === 'fall' && e.device_id === device).map((e) => e.kind === 'fall' && { source: e.source, detector: e.detector, placement: e.placement, decided: e.decided });
  }
  const registry = async () => ((await (await fetch(`${h.adminUrl}/api/devices`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { devices: { device_id: string; placement?: string }[] }).devices;

  test('every placement file is checked and loaded once; the status says how each placement decides', () => {
    const st = h.gw.readiness.evaluate().checks.model as unknown as Record<string, unknown>;
    expect(st).toMatchObject({ ready: true, detail: 'fallnet 2.0.0-test', model_files: ['m.onnx', 'fallnet-neck.onnx'] });
    expect(st.placements).toMatchObject({ ankle: 'threshold', wrist: 'model 0.86/1/50', neck: 'either 0.86/1/50 (fallnet-neck.onnx)', chest: 'either 0.86/1/1 (fallnet-neck.onnx)', hip: 'either 0.86/1/50 confirm 1', pocket: 'either 0.86/1/50 confirm 0.05', waist: 'model 0.86/1/1', unknown: 'model 0.86/1/1' });
  });

  test("the chunk's placement decides how: the model, the threshold detector alone, either; the record says which and where", async () => {
    expect(await fall('p-waist', () => 'waist')).toEqual([{ source: 'model', detector: 'model', placement: 'waist', decided: true }]);
    expect(await fall('p-ankle', () => 'ankle')).toEqual([{ source: 'model', detector: 'threshold', placement: 'ankle', decided: true }]);
    expect(await fall('p-wrist', () => 'wrist')).toEqual([]);
    // either: the model (its own file) first, and the threshold detector's decision of the same fall is inside the cooldown.
    expect(await fall('p-chest', () => 'chest')).toEqual([{ source: 'model', detector: 'model', placement: 'chest', decided: true }]);
    // either, where the model never fires: the threshold detector decides.
    expect(await fall('p-neck', () => 'neck')).toEqual([{ source: 'model', detector: 'threshold', placement: 'neck', decided: true }]);
    // The same, with the impact to be confirmed by a window probability: of at least 1 (none is), of 0.05 (the fall's windows are).
    expect(await fall('p-hip', () => 'hip')).toEqual([]);
    expect(await fall('p-pocket', () => 'pocket')).toEqual([{ source: 'model', detector: 'threshold', placement: 'pocket', decided: true }]);
    const stats = h.gw.module(FallInferenceModule)!.stats;
    expect(stats.ankle).toEqual({ windows: 0, decisions: 1 });
    expect(stats.wrist.windows).toBeGreaterThan(0);
    expect(stats.wrist.decisions).toBe(0);
    expect(stats.waist.decisions).toBe(1);
  }, 60_000);

  test('without a placement: the devices option gives it, else unknown; a chunk that says otherwise wins', async () => {
    expect(await fall('cfg-ankle', () => undefined)).toEqual([{ source: 'model', detector: 'threshold', placement: 'ankle', decided: true }]);
    expect(await fall('cfg-none', () => undefined)).toEqual([{ source: 'model', detector: 'model', placement: 'unknown', decided: true }]);
    expect(await fall('cfg-ankle-2', () => 'wrist')).toEqual([]);
  }, 60_000);

  test('a device that declared its placement once keeps it for the chunks after, and the registry shows it', async () => {
    expect(await fall('declares-once', (i) => (i === 0 ? 'ankle' : undefined))).toEqual([{ source: 'model', detector: 'threshold', placement: 'ankle', decided: true }]);
    expect((await registry()).find((d) => d.device_id === 'declares-once')).toMatchObject({ placement: 'ankle' });
    // A device's last declaration beats the devices option too (cfg-ankle is configured ankle).
    expect((await post({ device_id: 'cfg-ankle', rate_hz: 50, t0: t0 + 500, acc: [[0, -1, 0]], placement: 'wrist' })).status).toBe(200);
    expect(await fall('cfg-ankle', () => undefined)).toEqual([]);
  }, 60_000);

  test.each([
    ['a placement not in the list', 'arm'],
    ['upper case', 'WRIST'],
    ['an empty string', ''],
    ['a number', 3],
    ['null', null],
    ['an array', ['wrist']],
  ])('refused with 400, nothing stored, nothing fed, nothing remembered: %s', async (_name, placement) => {
    const seq = h.gw.store.lastCommittedSeq;
    const device = `bad-placement-${String(placement).length}-${typeof placement}`;
    const chunk = { device_id: device, rate_hz: 50, t0: t0 + 9000, acc: [[0, -1, 0], [0, -1, 0]] };
    const r = await post({ ...chunk, placement });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ ok: false, error: 'invalid_request' });
    expect(r.body.error_description).toMatch(/placement: must be one of waist, hip, wrist, pocket, neck, chest, ankle, unknown/);
    expect(h.gw.store.lastCommittedSeq).toBe(seq);
    expect((await registry()).find((d) => d.device_id === device)).toBeUndefined();
    expect((await post(chunk)).body.accepted).toBe(2);
  });
});

test("a per-placement model file that does not match its sha256 is refused: /ready says which, device reports still decide", async () => {
  const model = modelDir({ placements: { wrist: { detector: 'model', file: 'fallnet-wrist.onnx', sha256: '0'.repeat(64) } } }, ['fallnet-wrist.onnx']);
  const g = await startGateway({ FALL_MODEL_PATH: model, FALL_DECISION_MODE: 'model_only' });
  try {
    const ready = await fetch(`${g.url}/ready`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, unknown> }).checks.model).toMatchObject({ ready: false, detail: expect.stringMatching(/fallnet-wrist\.onnx does not match the sha256/), mode: 'sensor_only' });
    const tok = await g.token('events:imu:ingest events:fall:ingest');
    const r = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'x', rate_hz: 50, acc: [[0, 1, 0]], placement: 'wrist' }) });
    expect(r.status).toBe(503);
    await fetch(`${g.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: 'x', event: 'fall', prob: 0.9 }) });
    expect([...g.gw.store.scan()].map((e) => e.kind === 'fall' && e.decided)).toEqual([true]);
  } finally {
    await g.close();
  }
});

test("the gateway's knobs replace the model's at every placement (and say so); a threshold-only placement still decides", async () => {
  const model = modelDir({ placements: { wrist: { detector: 'model', threshold: 0.5, smooth_k: 1, sustain_k: 1 }, ankle: { detector: 'threshold' } } });
  const g = await startGateway({ FALL_MODEL_PATH: model, FALL_AI_SUSTAIN_K: '50' });
  try {
    expect(g.logs.text).toMatch(/the gateway's fall knobs replace the model's own knobs at every placement/);
    expect((g.gw.readiness.evaluate().checks.model as unknown as { placements: Record<string, string> }).placements).toMatchObject({ wrist: 'model 0.5/1/50', ankle: 'threshold', unknown: 'model 0.86/1/50' });
    const tok = await g.token('events:imu:ingest');
    const t = sisfallTrial('F01_SA10_R01');
    for (const placement of ['wrist', 'ankle']) {
      for (let i = 0; i < t.acc.length; i += 50) {
        const r = await fetch(`${g.url}/events/imu`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${tok}` }, body: JSON.stringify({ device_id: `k-${placement}`, rate_hz: 50, t0: 1_760_200_000 + i / 50, acc: t.acc.slice(i, i + 50), placement }) });
        expect(r.status).toBe(200);
      }
    }
    expect([...g.gw.store.scan()].flatMap((e) => (e.kind === 'fall' ? [[e.device_id, e.detector]] : []))).toEqual([['k-ankle', 'threshold']]);
  } finally {
    await g.close();
  }
}, 60_000);
