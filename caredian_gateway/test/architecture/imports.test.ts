// The import structure of src/: no circles between files, and imports only run down the layers
// (a feature never imports a feature beside or above it: they talk through the bus or through
// what the composition root hands them). ARCHITECTURE.md explains the layers.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const SRC = resolve(import.meta.dirname, '../../src');

/** Lower layers first. A folder may import its own files and folders of lower layers only. */
export const LAYERS: string[][] = [
  ['core'],
  ['config'],
  ['domain'],
  ['http', 'devtools'],
  ['events', 'auth', 'devices', 'admin', 'mqtt'],
  ['inference', 'influx', 'proxy', 'alerting'],
  ['ingest', 'eval', 'webhooks', 'ha'],
  ['ha-discovery', 'mqtt-input', 'ha-sources'],
  ['device-api', 'metrics'],
  ['cluster'],
  ['cli'],
  ['.'],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(file: string): string[] {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.')).map((s) => resolve(dirname(file), s.replace(/\.js$/, '.ts')));
}

const folder = (file: string) => {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '.' : rel[0]!;
};
const rank = (f: string) => LAYERS.findIndex((l) => l.includes(f));

const graph = new Map(files(SRC).map((f) => [f, importsOf(f)]));

test('every folder of src/ has a layer', () => {
  const unplaced = [...new Set([...graph.keys()].map(folder))].filter((f) => rank(f) < 0);
  expect(unplaced).toEqual([]);
});

test('imports only run down the layers, never sideways between features', () => {
  const bad: string[] = [];
  for (const [from, tos] of graph) {
    for (const to of tos) {
      const a = folder(from);
      const b = folder(to);
      if (a !== b && rank(b) >= rank(a)) bad.push(`${relative(SRC, from)} -> ${relative(SRC, to)}`);
    }
  }
  expect(bad).toEqual([]);
});

test('no import circles between files', () => {
  // Tarjan's strongly connected components: any component of two or more files is a circle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const circles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(relative(SRC, w));
      } while (w !== v);
      if (comp.length > 1) circles.push(comp);
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  expect(circles).toEqual([]);
});

test('the checker sees a planted upward import and a planted circle', () => {
  // Guards against a checker that passes because it reads nothing.
  const core = [...graph.keys()].find((f) => f.endsWith('core/bus.ts'))!;
  const gateway = [...graph.keys()].find((f) => f.endsWith('gateway.ts'))!;
  expect(rank(folder(gateway))).toBeGreaterThan(rank(folder(core)));
  expect(graph.get(gateway)!.length).toBeGreaterThan(10);
  expect(graph.get(gateway)).toContain(resolve(SRC, 'domain/bus-events.ts'));
});
