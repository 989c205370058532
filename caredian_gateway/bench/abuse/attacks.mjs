// The attacks of the abuse bench. Each runs until its deadline (or its count cap) and returns what
// it sent, the answers it got, what was expected and whether it was stopped as expected.
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { request } from 'node:http';
import { agentFrom, lanes, send, sleep, Tally, tokenRequest } from './http.mjs';

const DAY = 86400;
const now = () => Date.now() / 1000;
const later = () => Math.floor(now()) + DAY;
const bearer = (t) => ({ Authorization: `Bearer ${t}` });

/** (1) Client A reports falls and IMU for client B's device, and for its own with a ts a day ahead. */
export async function crossDevice({ port, deadline, tokens, victim, attacker, imu = true }) {
  const t = new Tally();
  const agent = agentFrom('127.0.0.4', 4);
  const acc = JSON.stringify(Array.from({ length: 50 }, (_, i) => [0.01 * (i % 7), -1, 0.02]));
  const kinds = [
    () => ({ path: '/events/fall', body: { device_id: victim, event: 'fall', prob: 0.99, ts: later() } }),
    () => ({ path: '/events/fall', body: { device_id: victim, event: 'fall', prob: 0.99 } }),
    () => ({ path: '/events/fall', body: { device_id: attacker, event: 'fall', prob: 0.99, ts: later() } }),
    ...(imu
      ? [
          () => ({ path: '/events/imu', body: `{"device_id":"${victim}","rate_hz":50,"t0":${later()},"acc":${acc}}` }),
          () => ({ path: '/events/imu', body: `{"device_id":"${attacker}","rate_hz":50,"t0":${later()},"acc":${acc}}` }),
        ]
      : []),
  ];
  const n = await lanes(4, deadline, 4000, async (i) => {
    const r = await send(port, { ...kinds[i % kinds.length](), agent, headers: bearer(tokens.attacker) });
    t.add(r.status);
  });
  agent.destroy();
  const accepted = t.count((s) => s >= 200 && s < 300);
  return { traffic: `${n} req, 4 in flight`, answers: t.toString(), expect: 'none accepted (403 other device, 400 future ts)', stopped: accepted === 0 };
}

/** (2) One token (a hub allowed `hub-*`) introduces up to 20,000 distinct device ids (non-alerting reports). */
export async function manyDeviceIds({ port, deadline, tokens, maxNewPerMin }) {
  const t = new Tally();
  const agent = agentFrom('127.0.0.5', 4);
  const n = await lanes(4, deadline, 20_000, async (i) => {
    const r = await send(port, { path: '/events/fall', agent, headers: bearer(tokens.hub), body: { device_id: `hub-${i}`, event: 'walk', prob: 0.1 } });
    t.add(r.status);
  });
  agent.destroy();
  const admitted = t.count((s) => s >= 200 && s < 300);
  return { traffic: `${n} device ids, 4 in flight`, answers: t.toString(), expect: `at most ${maxNewPerMin} new ids (max_new_devices_per_min), rest 429`, stopped: admitted <= maxNewPerMin };
}

/** (3) IMU chunks (10 s at 400 Hz, ~100 KB each) for ever new device ids: per-device model state. */
export async function imuDeviceIds({ port, deadline, tokens, maxNewPerMin }) {
  const t = new Tally();
  const agent = agentFrom('127.0.0.6', 4);
  const acc = JSON.stringify(Array.from({ length: 4000 }, (_, i) => [+(0.05 * Math.sin(i / 7)).toFixed(6), +(-1 + 0.1 * Math.sin(i / 3)).toFixed(6), +(0.05 * Math.cos(i / 5)).toFixed(6)]));
  let bytes = 0;
  const n = await lanes(4, deadline, 20_000, async (i) => {
    const body = `{"device_id":"imu-${i}","rate_hz":400,"t0":${(now() - 10.5).toFixed(3)},"acc":${acc}}`;
    bytes += body.length;
    const r = await send(port, { path: '/events/imu', agent, headers: bearer(tokens.imuHub), body, timeoutMs: 20_000 });
    t.add(r.status);
  });
  agent.destroy();
  const admitted = t.count((s) => s >= 200 && s < 300);
  return { traffic: `${n} chunks (${(bytes / 1048576).toFixed(0)} MB), 4 in flight`, answers: t.toString(), expect: `at most ${maxNewPerMin} new ids, rest 429; RSS bounded`, stopped: admitted <= maxNewPerMin };
}

/** (4) 40 source addresses (127.0.1.x) × 30 failed token requests for unknown clients, 5 in flight each. */
export async function tokenFailures({ port, deadline, addresses = 40, perAddress = 30 }) {
  const t = new Tally();
  let n = 0;
  await Promise.all(
    Array.from({ length: addresses }, async (_, a) => {
      const agent = agentFrom(`127.0.1.${a + 1}`, 5);
      await lanes(5, deadline, perAddress, async (i) => {
        n++;
        const r = await tokenRequest(port, `nobody-${a}-${i}`, `wrong-secret-${a}-${i}-0123456789`, { agent });
        t.add(r.status);
      });
      agent.destroy();
    }),
  );
  return { traffic: `${n} req from ${addresses} addresses`, answers: t.toString(), expect: '401/429/503 only; legit tokens unaffected', stoppedIf: (legit) => t.count((s) => s >= 200 && s < 300) === 0 && legit.tokenFail === 0 };
}

/** (5) Wrong secrets for the legitimate client id from 40 other addresses while the device gets tokens. */
export async function wrongSecretsForLegit({ port, deadline, clientId, addresses = 40, perAddress = 30, lockoutAfter = 10 }) {
  const t = new Tally();
  let n = 0;
  await Promise.all(
    Array.from({ length: addresses }, async (_, a) => {
      const agent = agentFrom(`127.0.2.${a + 1}`, 3);
      await lanes(3, deadline, perAddress, async (i) => {
        n++;
        const r = await tokenRequest(port, clientId, `guess-${a}-${i}-0123456789abcdef`, { agent });
        t.add(r.status);
      });
      agent.destroy();
    }),
  );
  return {
    traffic: `${n} req from ${addresses} addresses`,
    answers: t.toString(),
    expect: `at most ${lockoutAfter} guesses checked (401) per address, then 429 (or 503 while busy); the device (127.0.0.1) keeps getting 200`,
    stoppedIf: (legit) => t.count((s) => s >= 200 && s < 300) === 0 && t.get(401) <= lockoutAfter * addresses && legit.tokenFail === 0 && legit.tokenOk > 0,
  };
}

export const ESCAPES = [
  '/proxy/open/.%2e/secret',
  '/proxy/open/%2e./secret',
  '/proxy/open/%2e%2e/secret',
  '/proxy/open/%2E%2E/secret',
  '/proxy/open/../secret',
  '/proxy/open/./../secret',
  '/proxy/open/..\\secret',
  '/proxy/open/..%5csecret',
  '/proxy/open/..%5Csecret',
  '/proxy/open/%2e%2e%5csecret',
  '/proxy/open/..%2fsecret',
  '/proxy/open/%2e%2e%2fsecret',
  '/proxy/open/%252e%252e/secret',
  '/proxy/open/.%252e/secret',
  '/proxy/open/%252e%252e%252fsecret',
  '/proxy/open/%25252e%25252e/secret',
  '/proxy/open/..%255csecret',
  '/proxy/open/..;/secret',
  '/proxy/open/%2e%2e;x=1/secret',
  '/proxy/open/%c0%ae%c0%ae/secret',
  '/proxy/open/a/../../secret',
  '/proxy/open/a/%2e%2e/%2e%2e/secret',
];

/** (6) Proxy path escapes against the local upstream; any request that resolves outside /open counts. */
export async function proxyEscapes({ port, deadline, apiKey, upstream }) {
  const t = new Tally();
  const before = upstream.seen.escaped.length;
  const agent = agentFrom('127.0.0.7', 2);
  let control = 0;
  const n = await lanes(2, deadline, 20_000, async (i) => {
    if (i % (ESCAPES.length + 1) === ESCAPES.length) {
      const r = await send(port, { method: 'GET', path: '/proxy/open/ok', agent, headers: bearer(apiKey) });
      if (r.status === 200) control++;
      return;
    }
    const r = await send(port, { method: i % 2 ? 'POST' : 'GET', path: ESCAPES[i % (ESCAPES.length + 1)], agent, headers: bearer(apiKey), body: i % 2 ? '{}' : undefined });
    t.add(r.status);
  });
  agent.destroy();
  const escaped = upstream.seen.escaped.slice(before);
  const distinct = [...new Set(escaped)];
  return {
    traffic: `${n} req (${ESCAPES.length} escape forms + a control)`,
    answers: `${t.toString()}; reached upstream outside /open: ${escaped.length}${distinct.length ? ` (${distinct.slice(0, 4).join(' ')})` : ''}; control 200×${control}`,
    expect: '0 reach the upstream outside /open; control path 200',
    stopped: escaped.length === 0 && control > 0,
  };
}

/** Hex form of an IPv4 address and port as /proc/net/tcp writes them (127.0.0.2:80 → 0200007F:0050). */
const procAddr = (ip, port) => `${ip.split('.').reverse().map((b) => Number(b).toString(16).padStart(2, '0')).join('').toUpperCase()}:${port.toString(16).padStart(4, '0').toUpperCase()}`;

/**
 * The connections from `address` to `port` the server has accepted (established, with an inode):
 * the kernel also completes handshakes it has not handed to the server yet, which the client
 * cannot tell from accepted ones.
 */
function acceptedFrom(address, port) {
  const local = `:${port.toString(16).padStart(4, '0').toUpperCase()}`;
  const remote = procAddr(address, 0).split(':')[0];
  const inodes = new Set();
  for (const line of readFileSync('/proc/net/tcp', 'latin1').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '01' || !f[1].endsWith(local) || !f[2].startsWith(`${remote}:`) || f[9] === '0') continue;
    inodes.add(f[9]);
  }
  return inodes;
}

/**
 * (7) Many connections from one address (127.0.0.2): half idle, half sending headers a byte a
 * second. Counts (from /proc/net/tcp) how many the server holds at once and how long it keeps them.
 */
export async function idleConnections({ port, deadline, count, address = '127.0.0.2', perAddressCap, headersTimeoutSec }) {
  const socks = [];
  let connectFailed = 0;
  // Server-side view: inode → first and last sample it was seen accepted in, and how often. A
  // socket refused over the cap is accepted for a moment too: only one seen in two samples in a
  // row (alive for ~0.5 s or more) counts as held.
  const held = new Map();
  let prev = new Set();
  let maxHeld = 0;
  let sampledAt = 0;
  const sample = () => {
    const t = Date.now();
    sampledAt = t;
    const cur = acceptedFrom(address, port);
    let both = 0;
    for (const ino of cur) {
      if (prev.has(ino)) both++;
      const h = held.get(ino);
      if (!h) held.set(ino, { first: t, last: t, seen: 1 });
      else {
        h.last = t;
        h.seen++;
      }
    }
    maxHeld = Math.max(maxHeld, both);
    prev = cur;
  };
  const sampler = setInterval(sample, 500);
  const opened = (half) =>
    new Promise((resolve) => {
      const s = connect({ host: '127.0.0.1', port, localAddress: address });
      socks.push(s);
      s.on('connect', () => {
        if (half) s.write('POST /events/fall HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ');
        s.half = half;
        s.ok = true;
        resolve();
      });
      s.on('error', () => {});
      s.on('close', () => {
        if (!s.ok) connectFailed++;
        resolve();
      });
      s.setTimeout(5000, () => s.connecting && s.destroy());
    });
  const trickle = setInterval(() => {
    for (const s of socks) if (s.half && !s.destroyed) s.write('a');
  }, 1000);
  const started = Date.now();
  for (let i = 0; i < count && Date.now() < deadline - 2000; i += 250) {
    await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, k) => opened((i + k) % 2 === 1)));
  }
  const connectSeconds = (Date.now() - started) / 1000;
  await sleep(deadline - Date.now());
  clearInterval(trickle);
  clearInterval(sampler);
  sample();
  const end = sampledAt;
  const clientOpen = socks.filter((s) => !s.destroyed).length;
  for (const s of socks) s.destroy();
  for (const [ino, h] of held) if (h.seen < 2) held.delete(ino);
  const ended = [...held.values()].filter((h) => h.last < end);
  const lifetimes = ended.map((h) => (h.last - h.first) / 1000).sort((a, b) => a - b);
  const stillHeld = [...held.values()].filter((h) => h.last === end);
  const oldest = stillHeld.reduce((m, h) => Math.max(m, (end - h.first) / 1000), 0);
  const longest = lifetimes.length ? lifetimes[lifetimes.length - 1] : 0;
  const limitS = headersTimeoutSec + 2;
  return {
    traffic: `${socks.length} connections from ${address} in ${connectSeconds.toFixed(1)} s (half trickling headers)`,
    answers: `held by the gateway (≥ 0.5 s): ${held.size}, at most ${maxHeld} at once; closed by it after ${lifetimes.length ? `${lifetimes[0].toFixed(1)}-${longest.toFixed(1)} s` : '—'}; held at the end ${stillHeld.length} (oldest ${oldest.toFixed(1)} s); client sockets still open ${clientOpen}; connect failed ${connectFailed}`,
    expect: `≤ ${perAddressCap} held at once (max_connections_per_address), each closed within ~${headersTimeoutSec} s (http_headers_timeout_sec)`,
    stopped: maxHeld <= perAddressCap && longest <= limitS && oldest <= limitS,
  };
}

function drainedOrClosed(req) {
  return new Promise((resolve) => {
    const done = () => {
      req.off('drain', done).off('close', done);
      resolve();
    };
    req.once('drain', done).once('close', done);
  });
}

/** One chunked POST of up to `total` bytes, paced; when (and after how many bytes) the server answered. */
function bigBody(port, { path, headers, total, localAddress }) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let sent = 0;
    let done = false;
    let answer = { status: 0, ms: NaN, sentAtAnswer: NaN };
    const chunk = Buffer.alloc(64 * 1024, 'a');
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, localAddress, headers: { ...headers, 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' } });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...answer, sent });
    };
    const timer = setTimeout(finish, 15_000);
    req.on('response', (res) => {
      answer = { status: res.statusCode, ms: performance.now() - t0, sentAtAnswer: sent };
      res.resume();
      res.on('end', finish);
      res.on('error', finish);
    });
    req.on('error', finish);
    req.on('close', () => setTimeout(finish, 50));
    (async () => {
      req.write('{"device_id":"esp32-02","event":"fall","prob":0.5,"pad":"');
      while (!done && sent < total) {
        const ok = req.write(chunk);
        sent += chunk.length;
        if (!ok) await drainedOrClosed(req);
        await sleep(25); // ~2.5 MB/s: a server that reads to the end answers after seconds
      }
      if (!done) req.end('"}');
    })().catch(finish);
  });
}

/** (8) Multi-MB chunked bodies to /auth/cc/token and (with an Origin, so through Express) /events/fall. */
export async function bigChunkedBodies({ port, deadline, tokens, megabytes = 8 }) {
  const t = new Tally();
  const slow = [];
  let maxMs = 0;
  const n = await lanes(4, deadline, 60, async (i) => {
    const token = i % 2 === 0;
    const r = await bigBody(port, {
      path: token ? '/auth/cc/token' : '/events/fall',
      headers: token ? {} : { Origin: 'https://evil.example', ...bearer(tokens.attacker) },
      total: megabytes * 1048576,
      localAddress: '127.0.0.3',
    });
    t.add(r.status);
    if (Number.isFinite(r.ms)) maxMs = Math.max(maxMs, r.ms);
    if (r.status !== 413 || !(r.ms < 1000)) slow.push(`${token ? 'token' : 'fall'} ${r.status} after ${Number.isFinite(r.ms) ? (r.ms / 1000).toFixed(1) : '—'} s`);
  });
  return {
    traffic: `${n} bodies of up to ${megabytes} MB at ~2.5 MB/s, 4 in flight`,
    answers: `${t.toString()}; slowest answer ${(maxMs / 1000).toFixed(2)} s${slow.length ? `; not 413 within 1 s: ${slow.length} (${slow.slice(0, 2).join(', ')})` : ''}`,
    expect: '413 within 1 s, connection closed, body not read on',
    stopped: slow.length === 0 && n > 0,
  };
}

/** (9) An event_id reused with different bodies (and as an identical retry), for the client's own device. */
export async function eventIdReuse({ port, deadline, tokens, attacker }) {
  const first = new Tally();
  const same = new Tally();
  const diff = new Tally();
  const agent = agentFrom('127.0.0.8', 4);
  const run = Date.now().toString(36);
  const n = await lanes(4, deadline, 1500, async (i) => {
    const id = `reuse-${run}-${i}`;
    const ts = Math.floor(now()) - 5;
    const base = { device_id: attacker, location: 'hall', event: 'near_fall', prob: 0.5, ts, event_id: id };
    const go = (body) => send(port, { path: '/events/fall', agent, headers: bearer(tokens.attacker), body });
    first.add((await go(base)).status);
    same.add((await go(base)).status);
    for (const change of [{ prob: 0.99 }, { event: 'fall' }, { ts: ts - 3600 }, { location: 'bathroom' }]) diff.add((await go({ ...base, ...change })).status);
  });
  agent.destroy();
  const acceptedDifferent = diff.count((s) => s >= 200 && s < 300);
  return {
    traffic: `${n} ids × (1 new + 1 identical + 4 different)`,
    answers: `new ${first.toString()}; identical retry ${same.toString()}; different body ${diff.toString()}`,
    expect: 'identical retry 200 duplicate; any different body 409',
    stopped: acceptedDifferent === 0 && diff.get(409) > 0,
  };
}
