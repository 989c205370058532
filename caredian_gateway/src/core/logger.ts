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

export function createLogger(opts: { level: string; json: boolean }, dest?: DestinationStream): Logger {
  const base = {
    level: opts.level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { name: 'caredian' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (opts.json) return pino(base, dest ?? pino.destination({ sync: false }));
  // Plain lines for people reading the add-on log tab.
  const human = {
    write(line: string) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const { time, level, msg, name: _n, ...rest } = o;
        const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
        (dest ?? process.stdout).write(`${String(time)} ${String(level).toUpperCase()} ${String(msg ?? '')}${extra}\n`);
      } catch {
        (dest ?? process.stdout).write(line);
      }
    },
  };
  return pino(base, human);
}
