import { availableParallelism } from 'node:os';

/** Unset: one device-port worker per core, up to 4 (a Raspberry Pi 4's); one core: none. */
export function deviceWorkerCount(configured: number | undefined, cores = availableParallelism()): number {
  if (configured !== undefined) return configured;
  return cores >= 2 ? Math.min(cores, 4) : 0;
}
