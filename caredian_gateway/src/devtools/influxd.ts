// Starts a private InfluxDB 1.x (Debian package `influxdb`) on free loopback ports in a temp
// directory. Used by the test suite and the benchmarks; not used by the gateway itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const INFLUXD = process.env.INFLUXD_BIN ?? '/usr/bin/influxd';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** SIGTERM (the program saves its state), SIGKILL after 5 s; resolves when it has exited. */
export async function stopChild(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
    setTimeout(() => p.kill('SIGKILL'), 5000).unref();
  });
}

export class Influxd {
  private proc?: ChildProcess;
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly configPath: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async create(): Promise<Influxd> {
    if (!existsSync(INFLUXD)) throw new Error(`${INFLUXD} not found: install InfluxDB 1.x with "apt-get install -y influxdb" (the tests and benchmarks start their own)`);
    const dir = mkdtempSync(join(tmpdir(), 'caredian-influxd-'));
    const [port, rpc] = [await freePort(), await freePort()];
    const configPath = join(dir, 'influxdb.conf');
    writeFileSync(
      configPath,
      `reporting-disabled = true
bind-address = "127.0.0.1:${rpc}"
[meta]
  dir = "${dir}/meta"
[data]
  dir = "${dir}/data"
  wal-dir = "${dir}/wal"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[coordinator]
  log-queries-after = "0s"
[http]
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[logging]
  level = "warn"
`,
    );
    const d = new Influxd(dir, port, configPath);
    await d.start();
    return d;
  }

  async start(): Promise<void> {
    this.proc = spawn(INFLUXD, ['-config', this.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.proc.stderr!.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`influxd exited (${this.proc.exitCode}): ${stderr}`);
      try {
        const r = await fetch(`${this.url}/ping`);
        if (r.status === 204) return;
      } catch {
        /* not up yet */
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`influxd did not answer /ping within 30 s: ${stderr}`);
  }

  async stop(): Promise<void> {
    await stopChild(this.proc);
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async query(db: string, q: string): Promise<{ results: { series?: { columns: string[]; values: unknown[][] }[]; error?: string }[] }> {
    const r = await fetch(`${this.url}/query?db=${encodeURIComponent(db)}&epoch=ns&q=${encodeURIComponent(q)}`);
    return (await r.json()) as never;
  }

  async write(db: string, lines: string): Promise<number> {
    const r = await fetch(`${this.url}/write?db=${encodeURIComponent(db)}&precision=ns`, { method: 'POST', body: lines });
    await r.text();
    return r.status;
  }
}
