// Starts a private Mosquitto broker (Debian package `mosquitto`) on a free loopback port in a temp
// directory, with a password file and persistence (like Home Assistant's Mosquitto add-on, so
// retained messages survive a broker restart). Used by the tests and benchmarks only.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild } from './influxd.js';

export const MOSQUITTO = process.env.MOSQUITTO_BIN ?? '/usr/sbin/mosquitto';
const MOSQUITTO_PASSWD = process.env.MOSQUITTO_PASSWD_BIN ?? '/usr/bin/mosquitto_passwd';

export interface BrokerUser {
  username: string;
  password: string;
}

export class Mosquitto {
  private proc?: ChildProcess;
  private stderr = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly users: BrokerUser[],
    private readonly configPath: string,
  ) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /**
   * A broker that admits only `users` (password file), or anyone when `users` is empty. `extra`
   * lines go into mosquitto.conf as they are (max_queued_messages; an `acl` list becomes acl_file).
   */
  static async create(users: BrokerUser[] = [{ username: 'gateway', password: 'gateway-password-0123' }], extra: { conf?: string[]; acl?: string[] } = {}): Promise<Mosquitto> {
    if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found: install the broker with "apt-get install -y mosquitto mosquitto-clients" (the tests start their own)`);
    const dir = mkdtempSync(join(tmpdir(), 'caredian-mosquitto-'));
    const port = await freePort();
    // As root, Mosquitto would switch to the `mosquitto` user, who cannot read this private temp dir.
    const lines = [`user ${userInfo().username}`, `listener ${port} 127.0.0.1`, 'persistence true', `persistence_location ${dir}/`, 'autosave_interval 1', `log_dest stderr`, 'log_type error', 'log_type warning'];
    if (users.length) {
      const pw = join(dir, 'passwd');
      writeFileSync(pw, '', { mode: 0o600 });
      for (const u of users) execFileSync(MOSQUITTO_PASSWD, ['-b', pw, u.username, u.password]);
      lines.push('allow_anonymous false', `password_file ${pw}`);
    } else lines.push('allow_anonymous true');
    if (extra.acl) {
      const acl = join(dir, 'acl');
      writeFileSync(acl, extra.acl.join('\n') + '\n', { mode: 0o600 });
      lines.push(`acl_file ${acl}`);
    }
    lines.push(...(extra.conf ?? []));
    const configPath = join(dir, 'mosquitto.conf');
    writeFileSync(configPath, lines.join('\n') + '\n');
    const m = new Mosquitto(dir, port, users, configPath);
    await m.start();
    return m;
  }

  async start(): Promise<void> {
    this.proc = spawn(MOSQUITTO, ['-c', this.configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.proc.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`mosquitto exited (${this.proc.exitCode}): ${this.stderr}`);
      if (await listening(this.port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`mosquitto did not listen within 10 s: ${this.stderr}`);
  }

  /** SIGTERM: Mosquitto saves its persistence file (retained messages, sessions) before it exits. */
  async stop(): Promise<void> {
    await stopChild(this.proc);
    this.proc = undefined;
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
