// The client examples in DOCS.md must work as printed: extracted from the file and run.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway, type Harness } from '../support/harness.js';
import { TextAnalyser } from '../support/text-analyser.js';

const KEY = 'docs-example-key-0123456789';
let h: Harness;
let up: TextAnalyser;
beforeAll(async () => {
  up = new TextAnalyser();
  await up.start();
  h = await startGateway({ API_KEYS_JSON: JSON.stringify({ docs: KEY }), PROXY_UPSTREAMS_JSON: JSON.stringify({ analyze: { url: `${up.url}/analyze` } }) });
});
afterAll(async () => {
  await h.close();
  await up.stop();
});

// Async: the gateway under test runs in this process and must keep serving while the example runs.
const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) =>
  promisify(execFile)(cmd, args, { env, encoding: 'utf8', timeout: 20_000 }).then(
    (r) => ({ status: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({ status: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }),
  );

const docs = readFileSync(join(process.cwd(), 'DOCS.md'), 'utf8');
const block = (lang: string, after: string) => {
  const from = docs.indexOf(after);
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(docs.slice(from));
  if (from < 0 || !m) throw new Error(`no ${lang} block after "${after}" in DOCS.md`);
  return m[1]!.replaceAll('http://HA:8080', h.url);
};

test('the Node snippet signs a request the gateway accepts', async () => {
  const r = await run(process.execPath, ['--input-type=commonjs', '-e', block('js', 'Node (18+) client')], { PATH: process.env.PATH, KEY });
  expect([r.status, r.stderr]).toEqual([0, '']);
  const out = JSON.parse(r.stdout) as { received_bytes: number; path: string };
  expect(out).toMatchObject({ received_bytes: Buffer.byteLength(JSON.stringify({ text: '안녕하세요' })), path: '/analyze' });
});

test('the curl + openssl example signs a request the gateway accepts', async () => {
  const script = block('sh', 'The same with curl and openssl').replace('KEY=cdk_...;', `KEY=${KEY};`);
  const r = await run('bash', ['-c', script]);
  expect([r.status, r.stderr]).toEqual([0, '']);
  const out = JSON.parse(r.stdout) as { received_bytes: number; profanity: boolean };
  expect(out).toMatchObject({ received_bytes: Buffer.byteLength('{"text":"hello"}'), profanity: false });
});
