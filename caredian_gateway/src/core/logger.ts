import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths pino blanks out wherever they appear in a log object. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-auth-token"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-auth-token"]',
  'authorization',
  'client_secret',
  'secret',
  'password',
  'access_token',
  'token',
  '*.client_secret',
  '*.secret',
  '*.password',
  '*.access_token',
  '*.token',
];

let stdout: ReturnType<typeof pino.destination> | undefined;

function stdoutBuffered(): ReturnType<typeof pino.destination> {
  if (!stdout) {
    const boom = pino.destination({ fd: 1, sync: false, minLength: 0 });
    stdout = boom;
    process.on('exit', () => {
      try {
        boom.flushSync();
      } catch {
        // stdout already closed
      }
    });
  }
  return stdout;
}

export function createLogger(opts: { level: string; json: boolean }, dest?: DestinationStream): Logger {
  const base = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name: 'caredian' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // stdout is a pipe under s6 and the Supervisor, and pipe writes are synchronous in Node: a busy
  // gateway spent a sixth of its main thread in them. Lines are buffered and written off the
  // request path instead, and flushed at exit.
  const out = dest ?? stdoutBuffered();
  if (opts.json) return pino(base, out);
  // Plain lines for people reading the add-on log tab.
  const human = {
    write(line: string) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { time, level, msg, name: _n, ...rest } = o;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        out.write(`${String(time)} ${String(level).toUpperCase()} ${String(msg ?? '')}${extra}\n`);
      } catch {
        out.write(line);
      }
    },
    flush() {
      (out as { flushSync?: () => void }).flushSync?.();
    },
  };
  return pino(base, human);
}
