// JSON log lines to CSV (the seed's scripts/log_to_csv.py); the command is cli/log-to-csv.ts.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

export const DEFAULT_FIELDS = ['time', 'level', 'msg', 'reqId', 'req.method', 'req.url', 'res.status', 'responseTime', 'device_id', 'client_id', 'err.message'];

function get(o: unknown, path: string): unknown {
  let cur = o;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** RFC 4180 quoting; cells that a spreadsheet would run as a formula get a leading apostrophe. */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export async function convert(inputs: Readable[], out: Writable, fields = DEFAULT_FIELDS): Promise<{ rows: number; skipped: number }> {
  out.write(`${fields.map(csvCell).join(',')}\n`);
  let rows = 0;
  let skipped = 0;
  for (const input of inputs) {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        skipped++;
        continue;
      }
      if (o === null || typeof o !== 'object') {
        skipped++;
        continue;
      }
      out.write(`${fields.map((f) => csvCell(get(o, f))).join(',')}\n`);
      rows++;
    }
  }
  return { rows, skipped };
}

