import { scryptSync } from 'node:crypto';
import { HashPool, HashPoolBusy } from '../../src/auth/hash-pool.js';

const params = { N: 1024, r: 8, p: 1 };

describe('HashPool', () => {
  test('derives the same keys as scrypt, one job per call, on its own thread', async () => {
    const pool = new HashPool({ keylen: 32, params });
    try {
      const salt = Buffer.from('0123456789abcdef');
      const keys = await pool.derive(['first-secret', 'second-secret'], salt);
      expect(keys.map((k) => k.toString('hex'))).toEqual([scryptSync('first-secret', salt, 32, params).toString('hex'), scryptSync('second-secret', salt, 32, params).toString('hex')]);
      expect(pool.hashed).toBe(2);
    } finally {
      await pool.close();
    }
  });

  test('at most maxPerSec secrets are hashed a second: a flood waits in the queue instead of taking a core', async () => {
    const pool = new HashPool({ keylen: 32, params, workers: 2, maxQueue: 100, maxPerSec: 5 });
    try {
      const salt = Buffer.from('0123456789abcdef');
      const all = Promise.all(Array.from({ length: 12 }, (_, i) => pool.derive([`s-${i}`], salt)));
      await new Promise((r) => setTimeout(r, 300));
      // One second's budget at once, then 5 a second: well under 12 after 0.3 s.
      expect(pool.hashed).toBeLessThanOrEqual(7);
      expect(pool.queued).toBeGreaterThanOrEqual(5);
      await all;
      expect(pool.hashed).toBe(12);
    } finally {
      await pool.close();
    }
  });

  test('at most maxCoreShare of a core is spent hashing, whatever one hash costs on this machine', async () => {
    // scrypt as the gateway uses it (N = 16384): tens of milliseconds a secret. A tenth of a core
    // holds a 100 ms bucket, so about three run at once and then one every ten hash durations.
    const real = { N: 16384, r: 8, p: 1 };
    const pool = new HashPool({ keylen: 32, params: real, workers: 1, maxQueue: 100, maxPerSec: 1000, maxCoreShare: 0.1 });
    try {
      const salt = Buffer.from('0123456789abcdef');
      const all = Promise.all(Array.from({ length: 8 }, (_, i) => pool.derive([`s-${i}`], salt)));
      await new Promise((r) => setTimeout(r, 1000));
      // Unlimited, one thread does 15 or more of these in a second.
      expect(pool.hashed).toBeLessThanOrEqual(5);
      expect(pool.queued).toBeGreaterThanOrEqual(3);
      await all;
      expect(pool.hashed).toBe(8);
    } finally {
      await pool.close();
    }
  }, 30_000);

  test('the queue is bounded: beyond it a call fails at once with HashPoolBusy', async () => {
    const pool = new HashPool({ keylen: 32, params, workers: 1, maxQueue: 1 });
    try {
      const salt = Buffer.alloc(16, 1);
      const running = pool.derive(['a'], salt);
      const queued = pool.derive(['b'], salt);
      expect(pool.queued).toBe(1);
      await expect(pool.derive(['c'], salt)).rejects.toBeInstanceOf(HashPoolBusy);
      await expect(Promise.all([running, queued])).resolves.toHaveLength(2);
      // Drained: it takes work again.
      await expect(pool.derive(['d'], salt)).resolves.toHaveLength(1);
    } finally {
      await pool.close();
    }
  });

  test('close rejects what is still queued and refuses new work', async () => {
    const pool = new HashPool({ keylen: 32, params, workers: 1, maxQueue: 4 });
    const salt = Buffer.alloc(16, 2);
    const running = pool.derive(['a'], salt).catch((e: Error) => e.message);
    const queued = pool.derive(['b'], salt).catch((e: Error) => e.message);
    await pool.close();
    expect(await queued).toBe('hash pool closed');
    await running;
    await expect(pool.derive(['c'], salt)).rejects.toThrow('hash pool closed');
  });

  test('no worker thread until there is work; idle workers stop after idleMs and start again with the next job', async () => {
    const pool = new HashPool({ keylen: 32, params, workers: 2, idleMs: 200 });
    try {
      const salt = Buffer.alloc(16, 3);
      expect(pool.workers).toBe(0);
      await pool.derive(['a'], salt);
      expect(pool.workers).toBe(1);
      await Promise.all([pool.derive(['b'], salt), pool.derive(['c'], salt)]);
      expect(pool.workers).toBe(2);
      for (let i = 0; i < 100 && pool.workers > 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(pool.workers).toBe(0);
      const [key] = await pool.derive(['d'], salt);
      expect(key!.toString('hex')).toBe(scryptSync('d', salt, 32, params).toString('hex'));
      expect(pool.hashed).toBe(4);
    } finally {
      await pool.close();
    }
  });
});
