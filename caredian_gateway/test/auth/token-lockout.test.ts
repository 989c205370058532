// Lockouts on POST /auth/cc/token are per (client id, source address); valid requests never count.
import { AuthModule } from '../../src/auth/auth-module.js';
import { CLIENT_ID, CLIENT_SECRET, startGateway } from '../support/harness.js';
import { statusCounts, tokenFrom } from './loopback.js';

describe('lockout per client id and source address', () => {
  test('wrong secrets from 127.0.0.2 lock out only that address; the device on 127.0.0.3 still gets tokens', async () => {
    const h = await startGateway();
    try {
      // 15 different guesses at once: the default limit (10) holds even for concurrent guesses.
      const guesses = await Promise.all(Array.from({ length: 15 }, (_, i) => tokenFrom(h.url, '127.0.0.2', CLIENT_ID, `wrong-guess-number-${i}`)));
      expect(statusCounts(guesses)).toEqual({ 401: 10, 429: 5 });
      const refused = guesses.find((a) => a.status === 429)!;
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_request' });

      // Locked from .2, even with the right secret (otherwise the lockout would confirm guesses)...
      expect((await tokenFrom(h.url, '127.0.0.2', CLIENT_ID, CLIENT_SECRET)).status).toBe(429);
      // ...while the real device on .3 is not affected, and another client on .2 neither.
      const device = await tokenFrom(h.url, '127.0.0.3', CLIENT_ID, CLIENT_SECRET);
      expect(device.status).toBe(200);
      expect(JSON.parse(device.body)).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
      expect((await tokenFrom(h.url, '127.0.0.3', CLIENT_ID, 'one-wrong-secret-here')).status).toBe(401);
      expect((await tokenFrom(h.url, '127.0.0.2', 'sensor-fall-only', 'another-long-secret-1')).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  test('40 concurrent valid requests from one address all get 200, are hashed once, and do not count toward lockout', async () => {
    const h = await startGateway();
    try {
      const stats = () => h.gw.module(AuthModule)!.clients.stats;
      const before = stats();
      for (let round = 0; round < 3; round++) {
        const answers = await Promise.all(Array.from({ length: 40 }, () => tokenFrom(h.url, '127.0.0.4', CLIENT_ID, CLIENT_SECRET)));
        expect(statusCounts(answers)).toEqual({ 200: 40 });
      }
      // One hash for the first of the burst; the other 119 joined it or hit the verified cache.
      expect(stats().hashes - before.hashes).toBe(1);
      expect(stats().cacheHits - before.cacheHits).toBeGreaterThan(0);
      // 120 successes left no failure behind: a wrong secret is answered 401, not 429.
      expect((await tokenFrom(h.url, '127.0.0.4', CLIENT_ID, 'one-wrong-secret-here')).status).toBe(401);
    } finally {
      await h.close();
    }
  });

  test('per address: failures across client ids lock that address only, and every request, valid ones too, counts toward a cap per minute', async () => {
    const h = await startGateway({}, { tokenRoute: { failuresPerIp: 3, requestsPerIpPerMinute: 5 } });
    try {
      for (const id of ['a1', 'a2', 'a3']) expect((await tokenFrom(h.url, '127.0.0.5', id, 'wrong-wrong-wrong-wrong')).status).toBe(401);
      expect((await tokenFrom(h.url, '127.0.0.5', 'a4', 'wrong-wrong-wrong-wrong')).status).toBe(429);
      expect((await tokenFrom(h.url, '127.0.0.5', CLIENT_ID, CLIENT_SECRET)).status).toBe(429);

      for (let i = 0; i < 5; i++) expect((await tokenFrom(h.url, '127.0.0.7', CLIENT_ID, CLIENT_SECRET)).status).toBe(200);
      const over = await tokenFrom(h.url, '127.0.0.7', CLIENT_ID, CLIENT_SECRET);
      expect(over.status).toBe(429);
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(over.headers['retry-after'])).toBeLessThanOrEqual(60);
      // Neither limit reaches another address.
      expect((await tokenFrom(h.url, '127.0.0.8', CLIENT_ID, CLIENT_SECRET)).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
