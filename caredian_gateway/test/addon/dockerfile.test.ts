// The image cannot be built here (no Docker engine); this pins what the runtime relies on.
import { readFileSync } from 'node:fs';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';

test('the final image stage ships the model beside dist/, where the runtime looks for it', () => {
  const stages = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').split(/^FROM /m);
  const final = stages[stages.length - 1]!;
  expect(final).toMatch(/^COPY --from=build \/build\/dist \.\/dist$/m);
  expect(final).toMatch(/^COPY models \.\/models$/m);
  expect(DEFAULT_MODEL_PATH).toMatch(/\/models\/fallnet\.onnx$/);
});
