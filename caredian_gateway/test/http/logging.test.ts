import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET, startGateway, type Harness } from '../support/harness.js';
import { csvCell } from '../../src/core/log-csv.js';

let h: Harness;
beforeAll(async () => {
  h = await startGateway({ LOG_LEVEL: 'trace', INFLUX_PASSWORD: 'influx-Pa55word-xyz', INFLUX_USERNAME: 'u', INFLUX_URL: 'http://127.0.0.1:1' });
});
afterAll(() => h.close());

test('secrets, tokens and credentials never reach the log, even at trace level', async () => {
  const basic = (s: string) => `Basic ${Buffer.from(`${CLIENT_ID}:${s}`).toString('base64')}`;
  const wrong = 'Wrong-Secret-Value-123';
  await fetch(`${h.url}/auth/cc/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials' }), headers: { Authorization: basic(wrong) } });
  await fetch(`${h.url}/auth/cc/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ client_id: CLIENT_ID, client_secret: wrong }) });
  const token = await h.token();
  for (const origin of [{}, { Origin: 'http://x.example' }] as Record<string, string>[]) {
    await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}`, 'X-Auth-Token': 'xauth-secret-token', ...origin }, body: JSON.stringify({ device_id: 'd', event: 'fall', prob: 2 }) });
    await fetch(`${h.url}/events/fall`, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}x`, ...origin }, body: '{}' });
  }
  await fetch(`${h.adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  await fetch(`${h.adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}-wrong` } });
  await new Promise((r) => setTimeout(r, 200));
  const text = h.logs.text;
  expect(h.logs.lines.length).toBeGreaterThan(10);
  for (const secret of [CLIENT_SECRET, wrong, token, token.split('.')[2]!, ADMIN_TOKEN, 'xauth-secret-token', 'influx-Pa55word-xyz', 'another-long-secret-1', Buffer.from(`${CLIENT_ID}:${wrong}`).toString('base64')]) {
    expect(text).not.toContain(secret);
  }
  // The lines are still useful: request ids and outcomes are there.
  expect(text).toMatch(/"reqId":"[0-9a-f-]{36}"/);
  expect(text).toContain('token request with bad client credentials');
});

test('X-Request-Id is echoed when sane and replaced when not', async () => {
  const r1 = await fetch(`${h.url}/health`, { headers: { 'X-Request-Id': 'abc-123' } });
  expect(r1.headers.get('x-request-id')).toBe('abc-123');
  const r2 = await fetch(`${h.url}/health`, { headers: { 'X-Request-Id': 'bad id\twith spaces' } });
  expect(r2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

test('log-to-csv turns the JSON log into CSV', () => {
  const file = join(h.config.data_dir, 'gateway.log');
  writeFileSync(file, `${h.logs.lines.join('\n')}\nnot json at all\n`);
  const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'log-to-csv.js'), file], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const rows = r.stdout.trim().split('\n');
  expect(rows[0]).toBe('time,level,msg,reqId,req.method,req.url,res.status,responseTime,device_id,client_id,err.message');
  expect(rows).toHaveLength(h.logs.lines.length + 1);
  expect(rows.some((l) => /,warn,request completed,[0-9a-f-]{36},POST,\/events\/fall,400,/.test(l))).toBe(true);
  expect(r.stderr).toMatch(/1 non-JSON lines skipped/);
  const custom = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'cli', 'log-to-csv.js'), '--fields', 'level,msg'], { input: '{"level":"info","msg":"a, \\"quoted\\""}\n', encoding: 'utf8' });
  expect(custom.stdout).toBe('level,msg\ninfo,"a, ""quoted"""\n');
});

test('CSV cells cannot smuggle spreadsheet formulas', () => {
  expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
  expect(csvCell('-12.5')).toBe('-12.5');
  expect(csvCell('line\nbreak')).toBe('"line\nbreak"');
});
