// The window probabilities of an ONNX network that is not trained by this recipe (fallnet 1.2.0's
// `models/fallnet-waist.onnx`), on the trials of some placements, for choose.py's knob rule:
//   node training/window_probs.mjs <model.onnx> <work dir> <out.json> <placement,placement...> [--raw]
// `dataset=<name>` in the list selects a dataset's trials instead (training/experiments compares a
// shipped LODO network on the dataset it never saw); --raw writes them unrounded.
// Reads the loader's cache (<work>/data/acc.npy, float32 [samples, 3], and trials.json); windows end
// at 200, 225, ... samples like recipe.trial_probs and the runtime. Writes {trial key: [prob, ...]}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const [model, work, out, placementList, flag] = process.argv.slice(2);
if (!model || !work || !out || !placementList || (flag !== undefined && flag !== '--raw')) {
  console.error('usage: node training/window_probs.mjs <model.onnx> <work dir> <out.json> <placement,...|dataset=name,...> [--raw]');
  process.exit(2);
}
const WINDOW = 200;
const HOP = 25;
const BATCH = 256;

function readNpy(path) {
  const buf = readFileSync(path);
  const headerLen = buf.readUInt16LE(8);
  const header = buf.subarray(10, 10 + headerLen).toString('latin1');
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(`${path}: expected little-endian float32, C order`);
  const start = 10 + headerLen;
  return new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
}

const acc = readNpy(join(work, 'data', 'acc.npy'));
const { trials } = JSON.parse(readFileSync(join(work, 'data', 'trials.json'), 'utf8'));
const wanted = new Set(placementList.split(','));
const selected = (t) => wanted.has(t.placement) || wanted.has(`dataset=${t.dataset}`);
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
const [input] = session.inputNames;
const [output] = session.outputNames;
const result = {};
let windows = 0;
const t0 = Date.now();
for (const t of trials) {
  if (!selected(t)) continue;
  const ends = [];
  for (let e = WINDOW; e <= t.n; e += HOP) ends.push(e);
  const probs = [];
  for (let b = 0; b < ends.length; b += BATCH) {
    const part = ends.slice(b, b + BATCH);
    const x = new Float32Array(part.length * WINDOW * 3);
    part.forEach((e, i) => x.set(acc.subarray((t.start + e - WINDOW) * 3, (t.start + e) * 3), i * WINDOW * 3));
    const r = await session.run({ [input]: new ort.Tensor('float32', x, [part.length, WINDOW, 3]) });
    probs.push(...r[output].data);
  }
  result[t.key] = flag === '--raw' ? probs : probs.map((p) => Math.round(p * 1e6) / 1e6);
  windows += ends.length;
}
writeFileSync(out, JSON.stringify(result));
console.log(`${Object.keys(result).length} trials, ${windows} windows in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${out}`);
