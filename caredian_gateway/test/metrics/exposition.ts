// A strict reader of the Prometheus text format (version 0.0.4), for the metrics tests: it throws
// on anything a Prometheus server would refuse or misread.
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const PAIR = new RegExp(`^(${LABEL})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"(,|$)`);
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

function parseLabels(s: string, line: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = s;
  while (rest.length) {
    const m = PAIR.exec(rest);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in out) throw new Error(`label ${m[1]} twice in: ${line}`);
    out[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    rest = rest.slice(m[0].length);
  }
  return out;
}

/** As Prometheus reads it (Go's ParseFloat): Inf and NaN in any case (prom-client writes "Nan"). */
function parseValue(s: string, line: string): number {
  const l = s.toLowerCase();
  if (l === '+inf' || l === 'inf') return Infinity;
  if (l === '-inf') return -Infinity;
  if (l === 'nan') return NaN;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new Error(`bad value in: ${line}`);
  return v;
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) ?(.*)$`).exec(line);
      if (!m) continue;
      const [, what, name, rest] = m as unknown as [string, string, string, string];
      let f = families.get(name);
      if (!f) {
        f = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, f);
      } else if (current !== f) throw new Error(`family ${name} is split up`);
      current = f;
      if (what === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`bad type in: ${line}`);
        if (f.samples.length) throw new Error(`TYPE after samples for ${name}`);
        f.type = rest;
      } else f.help = rest;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const f = current;
    const suffix = f && name.startsWith(f.name) ? name.slice(f.name.length) : undefined;
    if (!f || suffix === undefined || !(SUFFIXES[f.type] ?? ['']).includes(suffix)) throw new Error(`sample ${name} outside its family`);
    const labels = labelText ? parseLabels(labelText, line) : {};
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    f.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { le: number; v: number }[]>();
  const counts = new Map<string, number>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const k = JSON.stringify(Object.entries(rest).sort());
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`);
      groups.set(k, [...(groups.get(k) ?? []), { le: parseValue(le, s.name), v: s.value }]);
    } else if (s.name.endsWith('_count')) counts.set(k, s.value);
  }
  for (const [k, bs] of groups) {
    for (let i = 1; i < bs.length; i++) if (bs[i]!.le <= bs[i - 1]!.le || bs[i]!.v < bs[i - 1]!.v) throw new Error(`${f.name}${k}: buckets out of order or not cumulative`);
    const last = bs.at(-1)!;
    if (last.le !== Infinity || last.v !== counts.get(k)) throw new Error(`${f.name}${k}: the +Inf bucket must equal _count`);
  }
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function total(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  let n = 0;
  for (const f of families.values())
    for (const s of f.samples) if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) n += s.value;
  return n;
}

/** Whether any sample is named `name` with labels including `labels`. */
export function has(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): boolean {
  return [...families.values()].some((f) => f.samples.some((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)));
}
