// Runs the built gateway (dist/main.js) as a separate process, so tests can SIGKILL it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from '../../src/devtools/influxd.js';
import { ADMIN_TOKEN, CLIENT_ID, CLIENT_SECRET } from './harness.js';

export interface ChildGateway {
  url: string;
  adminUrl: string;
  proc: ChildProcess;
  output: () => string;
  token(scope: string): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startChildGateway(env: Record<string, string>, ports?: { port: number; ingress: number }): Promise<ChildGateway & { ports: { port: number; ingress: number } }> {
  const p = ports ?? { port: await freePort(), ingress: await freePort() };
  const proc = spawn(process.execPath, [join(process.cwd(), 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH,
      CAREDIAN_OPTIONS_PATH: '/nonexistent/options.json',
      HOST: '127.0.0.1',
      PORT: String(p.port),
      INGRESS_PORT: String(p.ingress),
      ADMIN_TOKEN,
      LOG_LEVEL: 'info',
      CONFIRM_WINDOW_SEC: '0',
      CC_CLIENTS_JSON: JSON.stringify({ [CLIENT_ID]: { secret: CLIENT_SECRET, devices: ['*'] } }),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const deadline = Date.now() + 20_000;
  while (!out.includes('CareDian Gateway started')) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`gateway did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${p.port}`;
  return {
    url,
    adminUrl: `http://127.0.0.1:${p.ingress}`,
    proc,
    ports: p,
    output: () => out,
    async token(scope) {
      const r = await fetch(`${url}/auth/cc/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', scope }), headers: { Authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}` } });
      return ((await r.json()) as { access_token: string }).access_token;
    },
    kill(signal = 'SIGKILL') {
      return new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill(signal);
      });
    },
  };
}

export async function adminStatus(adminUrl: string): Promise<{ checks: Record<string, Record<string, unknown>>; storage: { last_seq: number } }> {
  const r = await fetch(`${adminUrl}/api/status`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return (await r.json()) as never;
}
