// The legitimate device's steady load, in a worker thread so the attacks' client work in the main
// thread does not delay its timers: RATE requests/s on a schedule (3 fall reports : 1 heartbeat)
// over keep-alive from 127.0.0.1, plus a token request every tokenEveryMs. Every answer is filed
// under the label the main thread last sent ({ mark }), by the time the request was sent.
import { parentPort, workerData } from 'node:worker_threads';
import { agentFrom, send, tokenRequest } from './http.mjs';

const { port, clientId, secret, device, rate, heartbeats } = workerData;
let tokenEveryMs = workerData.tokenEveryMs;
const agent = agentFrom('127.0.0.1', 16);
const buckets = {};
let label = 'warm-up';
let bearer = workerData.bearer;
let running = true;
const bucket = (l) => (buckets[l] ??= { lat: [], statuses: {}, errors: 0, tokenOk: 0, tokenFail: 0, tokenStatuses: {} });

parentPort.on('message', (m) => {
  if (m.mark) label = m.mark;
  if (m.tokenEveryMs) tokenEveryMs = m.tokenEveryMs;
  if (m.stop) running = false;
});

async function one(i) {
  const l = label;
  const hb = heartbeats && i % 4 === 3;
  const body = hb
    ? { device_id: device, battery: 87, rssi: -55, fw: '1.4.2' }
    : { device_id: device, location: 'living_room', event: 'fall', prob: 0.91, event_id: `steady-${process.pid}-${i}` };
  const r = await send(port, { path: hb ? '/devices/heartbeat' : '/events/fall', agent, headers: { Authorization: `Bearer ${bearer}` }, body });
  const b = bucket(l);
  b.lat.push(r.ms);
  b.statuses[r.status] = (b.statuses[r.status] ?? 0) + 1;
  if (r.status < 200 || r.status > 299) b.errors++;
}

async function refreshToken() {
  const l = label;
  const r = await tokenRequest(port, clientId, secret, { agent });
  const b = bucket(l);
  b.tokenStatuses[r.status] = (b.tokenStatuses[r.status] ?? 0) + 1;
  if (r.status === 200) {
    b.tokenOk++;
    bearer = r.json.access_token;
  } else b.tokenFail++;
}

const inFlight = new Set();
const track = (p) => {
  inFlight.add(p);
  p.finally(() => inFlight.delete(p));
};
const interval = 1000 / rate;
const start = performance.now();
let lastToken = performance.now();
for (let i = 0; running; i++) {
  const wait = start + i * interval - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  track(one(i));
  if (performance.now() - lastToken >= tokenEveryMs) {
    lastToken = performance.now();
    track(refreshToken());
  }
}
await Promise.allSettled([...inFlight]);
agent.destroy();
parentPort.postMessage(buckets);
