// One step of npm run bench:stream: N simulated wearables (the simulator's --devices N), each
// sending a 1 s IMU chunk at 50 Hz on its own real-time schedule and a heartbeat every 60 s, for
// the given seconds. Prints one JSON line: answers, refusals, answer-time and lateness
// percentiles, counted after the warm-up (the first chunk of every device and the given seconds).
import { simulate } from '../../dist/cli/simulation.js';
import { syntheticWalk } from '../../dist/cli/synthetic-motion.js';

const [url, clientId, clientSecret, devices, seconds, warmSec] = process.argv.slice(2);
const warmUntil = Date.now() + Number(warmSec) * 1000;
const ms = [];
const late = [];
let chunks = 0;
let refused = 0;
let heartbeats = 0;
let falls = 0;
const refusals = {};
const ac = new AbortController();
setTimeout(() => ac.abort(), Number(seconds) * 1000);
const on = (e) => {
  const counted = Date.now() >= warmUntil;
  if (e.type === 'chunk') {
    chunks++;
    if (counted) {
      ms.push(e.ms);
      late.push(e.lateMs);
    }
  } else if (e.type === 'heartbeat') heartbeats++;
  else if (e.type === 'fall') falls++;
  else if (e.type === 'problem' || e.type === 'retry') {
    refused++;
    const k = e.type === 'retry' ? `retry ${e.what}` : `${e.status} ${e.error}`;
    refusals[k] = (refusals[k] ?? 0) + 1;
  }
};
const started = Date.now();
await simulate({ url, clientId, clientSecret, devices: Number(devices), device: 'sim', recording: syntheticWalk(60, 7), speed: 1, chunkSec: 1, heartbeatSec: 60, passes: Infinity, signal: ac.signal }, on);
const pct = (xs, p) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
console.log(JSON.stringify({ devices: Number(devices), seconds: (Date.now() - started) / 1000, chunks, counted: ms.length, heartbeats, falls, refused, refusals, p50: pct(ms, 50), p99: pct(ms, 99), max: pct(ms, 100), late_p99: pct(late, 99), late_max: pct(late, 100) }));
