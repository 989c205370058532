// Several processes' metrics as one exposition (what the primary does with its workers'), and the
// per-placement reader of the inference module's stats. Real prom-client registries, no cluster.
import { Counter, Histogram, Registry } from 'prom-client';
import { aggregateMetrics, exportRegistry, nameProcess, processMetricsJson } from '../../src/metrics/registry.js';
import { placementCounts } from '../../src/metrics/placement-stats.js';
import { parseExposition, total } from './exposition.js';

function processWith(requests: number, seconds: number[]): Registry {
  const r = new Registry();
  new Counter({ name: 'caredian_ingest_requests_total', help: 'requests', labelNames: ['kind'], registers: [r] }).inc({ kind: 'fall' }, requests);
  const h = new Histogram({ name: 'caredian_ingest_duration_seconds', help: 'latency', buckets: [0.01, 0.1], registers: [r] });
  for (const s of seconds) h.observe(s);
  return r;
}

afterEach(() => nameProcess(''));

test('named processes keep their own series (CPU per process); one exposition, valid text', async () => {
  nameProcess('primary');
  const primary = await processMetricsJson(processWith(3, [0.005]));
  nameProcess('worker-1');
  const worker = await processMetricsJson(processWith(5, [0.05, 0.5]));
  const m = parseExposition(await aggregateMetrics([primary, worker]));
  expect(total(m, 'caredian_ingest_requests_total', { process: 'primary' })).toBe(3);
  expect(total(m, 'caredian_ingest_requests_total', { process: 'worker-1' })).toBe(5);
  expect(total(m, 'caredian_ingest_duration_seconds_count')).toBe(3);
  expect(total(m, 'caredian_ingest_duration_seconds_bucket', { process: 'worker-1', le: '0.1' })).toBe(1);
  // Each process's CPU stays its own series: summing them is PromQL's job, not the exporter's.
  const cpu = m.get('process_cpu_seconds_total')!.samples.map((s) => s.labels.process).sort();
  expect(cpu).toEqual(['primary', 'worker-1']);
});

test('unnamed processes are summed series by series (why each process must be named)', async () => {
  const a = await processMetricsJson(processWith(3, [0.005]));
  const b = await processMetricsJson(processWith(5, [0.05]));
  const m = parseExposition(await aggregateMetrics([a, b]));
  expect(m.get('caredian_ingest_requests_total')!.samples).toEqual([{ name: 'caredian_ingest_requests_total', labels: { kind: 'fall' }, value: 8 }]);
  expect(total(m, 'caredian_ingest_duration_seconds_bucket', { le: '0.01' })).toBe(1);
  expect(total(m, 'caredian_ingest_duration_seconds_count')).toBe(2);
});

test('a single process exports the process metrics once, next to its own', async () => {
  const text = await exportRegistry(processWith(1, [])).metrics();
  const m = parseExposition(text);
  expect(total(m, 'caredian_ingest_requests_total')).toBe(1);
  expect(text.match(/^# TYPE process_cpu_seconds_total /gm)).toHaveLength(1);
  expect(m.get('process_start_time_seconds')).toBeDefined();
});

test('the exposition reader refuses what Prometheus would', () => {
  for (const bad of ['x 1', '# TYPE x counter\nx{a="1} 1\n', '# TYPE x counter\nx 1\nx 2\n', '# TYPE x gauge\nx one\n', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n', '# TYPE x gauge\ny 1\n'])
    expect(() => parseExposition(bad)).toThrow();
  expect(() => parseExposition('# HELP x a\n# TYPE x gauge\nx{a="q\\"b"} 1.5\n')).not.toThrow();
});

describe('model windows and decisions per placement, read from the inference module\'s stats', () => {
  const want = new Map([
    ['wrist', { windows: 10, decisions: 1 }],
    ['waist', { windows: 4, decisions: 0 }],
  ]);
  test.each([
    ['by placement', { wrist: { windows: 10, decisions: 1 }, waist: { windows: 4, decisions: 0 } }],
    ['nested under placements', { placements: { wrist: { windows: 10, decisions: 1 }, waist: { windows: 4, decisions: 0 } }, runs: 3 }],
    ['by counter', { windows: { wrist: 10, waist: 4 }, decisions: { wrist: 1, waist: 0 } }],
    ['a Map', new Map([['wrist', { windows_scored: 10, decided: 1 }], ['waist', { windows_scored: 4, decided: 0 }]])],
  ])('%s', (_shape, stats) => {
    expect(placementCounts(stats)).toEqual(want);
  });

  test('nothing usable: no series (totals only, nothing, bad names and values)', () => {
    for (const s of [undefined, null, 3, 'x', { windows: 12, runs: 3 }, { 'Wrist Left': { windows: 1 } }, { wrist: { windows: -1, decisions: Number.NaN } }]) expect([s, placementCounts(s).size]).toEqual([s, 0]);
  });
});
