import { deviceWorkerCount } from '../../src/cluster/worker-count.js';

test('device-port workers: as configured, else one per core up to 4 from four cores on, none below', () => {
  expect([1, 2, 3, 4, 8, 64].map((cores) => deviceWorkerCount(undefined, cores))).toEqual([0, 0, 0, 4, 4, 4]);
  expect(deviceWorkerCount(0, 8)).toBe(0);
  expect(deviceWorkerCount(2, 2)).toBe(2);
});
