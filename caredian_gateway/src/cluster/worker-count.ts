import { availableParallelism } from 'node:os';

/**
 * Unset: one device-port worker per core, up to 4, on machines with four cores or more (a
 * Raspberry Pi 4). On two cores they were measured to add 6 % of event throughput for some 140 MB
 * of memory (BENCHMARKS.md), so two- and one-core machines run one process unless configured.
 */
export function deviceWorkerCount(configured: number | undefined, cores = availableParallelism()): number {
  if (configured !== undefined) return configured;
  return cores >= 4 ? Math.min(cores, 4) : 0;
}
