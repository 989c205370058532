// Experiment helper (not part of `npm run train`): the window probabilities of a shipped LODO ONNX
// network (e.g. models/lodo/fallnet-without-fallalld50.onnx) on every trial of the datasets it never
// saw, unrounded, so training/experiments/lodo_compare.py can compare a changed recipe with the
// shipped one without retraining it (training/window_probs.mjs with a dataset filter):
//   node training/experiments/onnx_lodo_probs.mjs <model.onnx> <work dir> <out.json> <dataset,dataset...>
// Reads the loader's cache (<work>/data/acc.npy, float32 [samples, 3], and trials.json); windows end
// at 200, 225, ... samples like recipe.trial_probs and the runtime. Writes {trial key: [prob, ...]}.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const [model, work, out, datasetList] = process.argv.slice(2);
if (!model || !work || !out || !datasetList) {
  console.error('usage: node training/experiments/onnx_lodo_probs.mjs <model.onnx> <work dir> <out.json> <dataset,...>');
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
const wanted = new Set(datasetList.split(','));
const session = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
const [input] = session.inputNames;
const [output] = session.outputNames;
const result = {};
let windows = 0;
const t0 = Date.now();
for (const t of trials) {
  if (!wanted.has(t.dataset)) continue;
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
  result[t.key] = Array.from(probs);
  windows += ends.length;
}
writeFileSync(out, JSON.stringify(result));
console.log(`${Object.keys(result).length} trials, ${windows} windows in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${out}`);
