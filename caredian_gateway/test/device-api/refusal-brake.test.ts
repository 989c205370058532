// A client whose requests keep being refused is slowed down; others are not.
import { RefusalBrake } from '../../src/device-api/refusal-brake.js';

const admitted = async (b: RefusalBrake, id: string) => {
  const go = b.admit(id);
  return go === true ? true : await go;
};

test('a client never refused, or refused less than its burst (a quarter second of perSec), never waits; past it, it does', () => {
  const b = new RefusalBrake({ perSec: 10 });
  expect(b.admit('good')).toBe(true);
  b.refused('sometimes');
  expect(b.admit('sometimes')).toBe(true);
  b.refused('sometimes');
  expect(b.slowed).toBe(0);
  // Two refusals in a row spend the burst (2.5) down to 0.5: the next request waits.
  expect(b.admit('sometimes')).not.toBe(true);
  expect(b.slowed).toBe(1);
  b.close();
});

test("past perSec refusals, the client's requests go on one at a time at most perSec a second; another client goes at once", async () => {
  const b = new RefusalBrake({ perSec: 10 });
  for (let i = 0; i < 4; i++) b.refused('flood');
  const t0 = Date.now();
  // Each request let go is refused again: the next waits for the token it spent.
  const all = Array.from({ length: 5 }, () => admitted(b, 'flood').then((ok) => (b.refused('flood'), ok)));
  expect(b.admit('other')).toBe(true);
  expect(await Promise.all(all)).toEqual([true, true, true, true, true]);
  // 1.5 tokens owed, then five more at 10 a second: at least 0.6 s.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(550);
  expect(b.slowed).toBe(5);
  b.close();
});

test('beyond maxWaiting, the client is told at once (the caller answers 429)', async () => {
  const b = new RefusalBrake({ perSec: 2, maxWaiting: 3 });
  for (let i = 0; i < 5; i++) b.refused('flood');
  const waiting = [admitted(b, 'flood'), admitted(b, 'flood'), admitted(b, 'flood')];
  expect(await admitted(b, 'flood')).toBe(false);
  b.close();
  expect(await Promise.all(waiting)).toEqual([true, true, true]);
});
