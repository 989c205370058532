// The CI workflow builds exactly the images config.yaml tells the Supervisor to pull.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';

const repo = resolve(process.cwd(), '..');
const addon = parse(readFileSync('config.yaml', 'utf8')) as { version: string; image: string; arch: string[] };

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}
interface Job {
  needs?: string[];
  steps: Step[];
  strategy?: { matrix: { include: { arch: string; platform: string }[] } };
}
const wf = parse(readFileSync(join(repo, '.github', 'workflows', 'ci.yaml'), 'utf8')) as { jobs: Record<string, Job> };
const uses = (j: Job) => j.steps.map((s) => s.uses?.replace(/@.*/, '')).filter(Boolean);

test('lint job: the add-on linter on the add-on folder', () => {
  const step = wf.jobs.lint!.steps.find((s) => s.uses?.startsWith('frenck/action-addon-linter@'))!;
  expect(step.with).toMatchObject({ path: './caredian_gateway' });
});

test('build job: BuildKit (QEMU, buildx, build-push) for every architecture in config.yaml, after lint and tests', () => {
  const build = wf.jobs.build!;
  expect(build.needs).toEqual(expect.arrayContaining(['lint', 'test']));
  expect(uses(build)).toEqual(expect.arrayContaining(['docker/setup-qemu-action', 'docker/setup-buildx-action', 'docker/build-push-action']));
  expect(uses(build)).not.toContain('home-assistant/builder');
  const matrix = build.strategy!.matrix.include;
  expect(matrix.map((m) => m.arch).sort()).toEqual([...addon.arch].sort());
  expect(Object.fromEntries(matrix.map((m) => [m.arch, m.platform]))).toEqual({ amd64: 'linux/amd64', aarch64: 'linux/arm64' });
  const push = build.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))!;
  expect(push.with).toMatchObject({ context: './caredian_gateway', platforms: '${{ matrix.platform }}' });
  expect(String(push.with!['build-args'])).toMatch(/BUILD_ARCH=\$\{\{ matrix.arch \}\}/);
});

test("the version and image the build step tags are config.yaml's (its shell step run here)", () => {
  const step = wf.jobs.build!.steps.find((s) => s.id === 'addon')!;
  for (const arch of addon.arch) {
    const out = join(mkdtempSync(join(tmpdir(), 'gh-output-')), 'out');
    execFileSync('bash', ['--noprofile', '--norc', '-e', '-c', step.run!.replaceAll('${{ matrix.arch }}', arch)], { cwd: repo, env: { PATH: process.env.PATH, GITHUB_OUTPUT: out } });
    const got = Object.fromEntries(readFileSync(out, 'utf8').trim().split('\n').map((l) => l.split('=') as [string, string]));
    expect(got).toEqual({ version: addon.version, image: addon.image.replace('{arch}', arch) });
  }
  const push = wf.jobs.build!.steps.find((s) => s.uses?.startsWith('docker/build-push-action@'))!;
  expect(String(push.with!.tags)).toContain('${{ steps.addon.outputs.image }}:${{ steps.addon.outputs.version }}');
});
