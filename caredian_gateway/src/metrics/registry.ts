// What one process exports, and how several processes' exports become one exposition. Each
// process has one set of process_* and nodejs_* metrics (prom-client's default collectors: CPU,
// memory, event loop, GC) however many gateways it runs; a gateway adds its own registry. With
// device-port workers, each process names itself (label `process`) so that aggregating their
// metrics keeps one series per process instead of summing CPU seconds into one.
import { AggregatorRegistry, collectDefaultMetrics, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** What `Registry.getMetricsAsJSON()` gives: a process's metrics as sent between processes. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

export const METRICS_CONTENT_TYPE: string = Registry.PROMETHEUS_CONTENT_TYPE;

let processRegistry: Registry | undefined;
let processName: string | undefined;

/**
 * process_* and nodejs_*, once per process; the event loop is sampled every 10 ms. CPU counts from
 * the first call, so call it (or nameProcess) as early as the process starts.
 */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * Names this process in every series it exports (`process="primary"`, `process="worker-1"`).
 * Call once in each process before the first scrape when there is more than one; a single
 * process needs no name. Use a stable slot name, not a pid, so a restarted worker keeps its series.
 */
export function nameProcess(name: string): void {
  processName = name;
  processMetrics();
}

/** This process's registries as one, for the text format: the process metrics first, named if the process is. */
export function exportRegistry(...registries: Registry[]): Registry {
  const r = Registry.merge([processMetrics(), ...registries]);
  if (processName) r.setDefaultLabels({ process: processName });
  return r;
}

/**
 * This process's metrics as JSON, named if the process is: a worker's answer to the primary's
 * request, and the primary's own share of the aggregate. (Not through setDefaultLabels:
 * prom-client's getMetricsAsJSON writes default labels into the metrics' own series.)
 */
export async function processMetricsJson(...registries: Registry[]): Promise<MetricsJson> {
  const json = await Registry.merge([processMetrics(), ...registries]).getMetricsAsJSON();
  const name = processName;
  if (!name) return json;
  return json.map((m) => ({ ...m, values: m.values.map((v) => ({ ...v, labels: { ...v.labels, process: name } })) }));
}

/**
 * Several processes' metrics as one Prometheus text exposition. Series are summed only where
 * name and labels agree; with each process named they stay apart. Metrics prom-client marks
 * `omit` (process_start_time_seconds) are left out of an aggregate.
 */
export function aggregateMetrics(perProcess: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(perProcess).metrics();
}
