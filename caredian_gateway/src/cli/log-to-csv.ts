// Converts the gateway's JSON log lines to CSV.
// Usage: npm run log-to-csv -- [--fields a,b.c,...] [file ...]   (stdin when no file)
import { createReadStream } from 'node:fs';
import { convert, DEFAULT_FIELDS } from '../core/log-csv.js';

async function main(argv: string[]): Promise<void> {
  let fields = DEFAULT_FIELDS;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--fields') fields = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (argv[i] === '--help') {
      process.stdout.write('usage: log-to-csv [--fields a,b.c] [file ...]\n');
      return;
    } else files.push(argv[i]!);
  }
  const inputs = files.length ? files.map((f) => createReadStream(f)) : [process.stdin];
  const { rows, skipped } = await convert(inputs, process.stdout, fields);
  process.stderr.write(`log-to-csv: ${rows} rows${skipped ? `, ${skipped} non-JSON lines skipped` : ''}\n`);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`log-to-csv: ${(e as Error).message}\n`);
  process.exit(1);
});
