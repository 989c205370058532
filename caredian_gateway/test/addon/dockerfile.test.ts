// The image cannot be built here (no Docker engine); this pins what the runtime relies on.
import { existsSync, readFileSync } from 'node:fs';
import { DEFAULT_MODEL_PATH } from '../../src/inference/inference-module.js';

const stages = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8').split(/^FROM /m);
const final = stages[stages.length - 1]!;

test('the final image stage ships the model beside dist/, where the runtime looks for it', () => {
  expect(final).toMatch(/^COPY --from=build \/build\/dist \.\/dist$/m);
  expect(final).toMatch(/^COPY models \.\/models$/m);
  expect(DEFAULT_MODEL_PATH).toMatch(/\/models\/fallnet\.onnx$/);
});

test("the final stage starts FROM Home Assistant's multi-arch Debian base itself (no build.yaml, no BUILD_FROM)", () => {
  expect(final.split('\n')[0]).toBe('ghcr.io/home-assistant/base-debian:bookworm');
  expect(stages.join('FROM ')).not.toMatch(/BUILD_FROM/);
  expect(existsSync(new URL('../../build.yaml', import.meta.url))).toBe(false);
  // The build stage is Debian bookworm too, so its native modules match the final stage's glibc.
  expect(stages[1]).toMatch(/^node:22-bookworm-slim AS build/);
  expect(final).toMatch(/io\.hass\.arch="\$\{BUILD_ARCH\}"/);
  expect(final).toMatch(/io\.hass\.version="\$\{BUILD_VERSION\}"/);
});
