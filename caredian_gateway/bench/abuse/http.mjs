// Small HTTP client pieces for the abuse bench: one request with a deadline, keep-alive agents per
// source address, status tallies and percentiles.
import { Agent, request } from 'node:http';

/** A keep-alive agent whose connections come from `localAddress` (127.0.0.x on loopback). */
export const agentFrom = (localAddress, maxSockets = 8) => new Agent({ keepAlive: true, localAddress, maxSockets });

/**
 * One request; resolves (never rejects) with status (0 on a network error or timeout), elapsed ms,
 * and the parsed JSON body when there is one.
 */
export function send(port, { method = 'POST', path, headers = {}, body, agent, localAddress, timeoutMs = 10_000, host = '127.0.0.1' }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const data = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    const h = { ...headers };
    if (data !== undefined) {
      h['Content-Length'] = Buffer.byteLength(data);
      h['Content-Type'] ??= 'application/json';
    }
    let done = false;
    const finish = (status, text, error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      let json;
      try {
        json = text ? JSON.parse(text) : undefined;
      } catch {}
      resolve({ status, ms: performance.now() - t0, json, error });
    };
    const req = request({ host, port, path, method, headers: h, agent, localAddress: agent ? undefined : localAddress }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => finish(res.statusCode, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => finish(0, '', e.code ?? e.message));
    });
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
      finish(0, '', 'timeout');
    }, timeoutMs);
    req.on('error', (e) => finish(0, '', e.code ?? e.message));
    req.end(data);
  });
}

/** Counts of answers by status (0: no answer). */
export class Tally {
  constructor() {
    this.by = {};
    this.n = 0;
  }
  add(status) {
    this.by[status] = (this.by[status] ?? 0) + 1;
    this.n++;
  }
  get(status) {
    return this.by[status] ?? 0;
  }
  count(pred) {
    return Object.entries(this.by).reduce((a, [s, n]) => a + (pred(Number(s)) ? n : 0), 0);
  }
  toString() {
    return Object.entries(this.by).map(([s, n]) => `${s === '0' ? 'no answer' : s}×${n}`).join(' ') || 'none';
  }
}

/** Runs `lanes` concurrent loops of `step(i)` until the deadline or `max` steps in all. */
export async function lanes(lanesCount, deadline, max, step) {
  let next = 0;
  const lane = async () => {
    while (Date.now() < deadline && next < max) await step(next++);
  };
  await Promise.all(Array.from({ length: lanesCount }, lane));
  return next;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Nearest-rank percentile of an ascending-sorted array. */
export const pct = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] : NaN);

export function tokenRequest(port, clientId, secret, { agent, localAddress, scope } = {}) {
  return send(port, { path: '/auth/cc/token', agent, localAddress, body: { client_id: clientId, client_secret: secret, ...(scope ? { scope } : {}) } });
}

export async function tokenFor(port, clientId, secret) {
  const r = await tokenRequest(port, clientId, secret);
  if (r.status !== 200) throw new Error(`token for ${clientId}: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.access_token;
}
