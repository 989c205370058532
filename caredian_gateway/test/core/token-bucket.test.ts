// The token bucket the hash pool, the token admission and the refusal brake share, on a fake clock.
import { TokenBucket } from '../../src/core/token-bucket.js';

test('starts full, refills at its rate up to its capacity, and says how long a shortfall lasts', () => {
  let now = 0;
  const b = new TokenBucket(10, 3, () => now);
  expect(b.take()).toBe(true);
  expect(b.take(2)).toBe(true);
  expect(b.take()).toBe(false);
  expect(b.msUntil(1)).toBe(100);
  now = 250;
  expect(b.available).toBeCloseTo(2.5);
  now = 10_000;
  expect(b.available).toBe(3);
});

test('spending may go below zero (a cost known afterwards), and waits for the refill', () => {
  let now = 0;
  const b = new TokenBucket(1000, 200, () => now);
  b.spend(260);
  expect(b.available).toBe(-60);
  expect(b.msUntil(0)).toBe(60);
  now = 60;
  expect(b.msUntil(0)).toBe(0);
});

test('take(units, needed): a cost larger than the capacity goes through on a full bucket', () => {
  const b = new TokenBucket(8, 8, () => 0);
  expect(b.take(12, 8)).toBe(true);
  expect(b.available).toBe(-4);
  expect(b.take(1)).toBe(false);
});
