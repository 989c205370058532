#!/usr/bin/env node
// npm run simulate -- --client-id esp32-01 --client-secret <secret> [--url http://localhost:8080]
//   [--recording fall|walk|<file.csv.gz>] [--speed 1 | --fast] [--devices N] [--device id]
//   [--location room] [--chunk-sec 1] [--heartbeat-sec 30] [--battery 80] [--repeat n | --loop]
//   [--ca gateway-ca.pem] [--quiet | --verbose]
// A device without hardware: gets a token (and refreshes it), streams motion data to /events/imu
// and sends heartbeats, printing every fall the gateway decides.
import { parseArgs } from 'node:util';
import { readRecording } from './recording-file.js';
import { deviceIds, simulate, type SimEvent } from './simulation.js';
import { syntheticFall, syntheticWalk, type Recording } from './synthetic-motion.js';

const USAGE = `usage: npm run simulate -- --client-id <id> --client-secret <secret> [options]

  --url <url>            the gateway's device API (default http://localhost:8080, or CAREDIAN_URL)
  --client-id <id>       an OAuth client of the gateway (cc_clients / CC_CLIENTS_JSON), or CAREDIAN_CLIENT_ID
  --client-secret <s>    its secret, or CAREDIAN_CLIENT_SECRET (keeps it out of the process list)
  --recording <what>     fall (a built-in synthetic fall, the default), walk (a built-in walk),
                         or a .csv.gz in the datasets' layout (header ax,ay,az,..., 50 Hz)
  --rate <hz>            sample rate of a recording file (default 50)
  --speed <x>            1 = real time (default), 4 = four times faster
  --fast                 as fast as the gateway answers
  --devices <n>          run n devices at once: <device>-001 ... (the client must own them: "devices": ["<device>-*"])
  --device <id>          device id (default: the client id)
  --location <room>      sent with every chunk
  --chunk-sec <s>        seconds per chunk (default 1)
  --heartbeat-sec <s>    seconds between heartbeats (default 30)
  --battery <percent>    battery level to report (default: a slowly draining one)
  --repeat <n> | --loop  play the recording n times, or until Ctrl-C
  --ca <file.pem>        the CA of the gateway's certificate (https)
  --quiet | --verbose    only falls and the summary | every chunk too`;

function fail(msg: string): never {
  console.error(`${msg}\n\n${USAGE}`);
  process.exit(2);
}

const { values: a } = parseArgs({
  options: {
    url: { type: 'string', default: process.env.CAREDIAN_URL ?? 'http://localhost:8080' },
    'client-id': { type: 'string', default: process.env.CAREDIAN_CLIENT_ID },
    'client-secret': { type: 'string', default: process.env.CAREDIAN_CLIENT_SECRET },
    recording: { type: 'string', default: 'fall' },
    rate: { type: 'string', default: '50' },
    speed: { type: 'string', default: '1' },
    fast: { type: 'boolean', default: false },
    devices: { type: 'string', default: '1' },
    device: { type: 'string' },
    location: { type: 'string' },
    'chunk-sec': { type: 'string', default: '1' },
    'heartbeat-sec': { type: 'string', default: '30' },
    battery: { type: 'string' },
    repeat: { type: 'string', default: '1' },
    loop: { type: 'boolean', default: false },
    ca: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (a.help) {
  console.log(USAGE);
  process.exit(0);
}
const clientId = a['client-id'];
const clientSecret = a['client-secret'];
if (!clientId || !clientSecret) fail('--client-id and --client-secret are needed (the client as configured in cc_clients / CC_CLIENTS_JSON)');
const num = (name: string, v: string, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}`);
  return n;
};
const speed = a.fast ? 0 : num('speed', a.speed, 0.1, 1000);
const devices = Math.round(num('devices', a.devices, 1, 100_000));
const chunkSec = num('chunk-sec', a['chunk-sec'], 0.1, 10);
const heartbeatSec = num('heartbeat-sec', a['heartbeat-sec'], 1, 86_400);
const battery = a.battery !== undefined ? num('battery', a.battery, 0, 100) : undefined;
const passes = a.loop ? Infinity : Math.round(num('repeat', a.repeat, 1, 1e6));
let recording: Recording;
try {
  recording = a.recording === 'fall' ? syntheticFall() : a.recording === 'walk' ? syntheticWalk() : readRecording(a.recording, num('rate', a.rate, 10, 400));
} catch (err) {
  fail((err as Error).message);
}

const time = (epochSec: number) => new Date(epochSec * 1000).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const ids = deviceIds({ device: a.device, clientId, devices });
const pace = speed === 0 ? 'as fast as the gateway answers' : speed === 1 ? 'in real time' : `${speed}x faster than real time`;
console.log(`${ids.length === 1 ? ids[0] : `${ids.length} devices (${ids[0]} ... ${ids.at(-1)})`}: streaming ${recording.name} (${(recording.acc.length / recording.rateHz).toFixed(1)} s at ${recording.rateHz} Hz) to ${a.url} ${pace}, ${chunkSec} s chunks${passes > 1 ? (passes === Infinity ? ', until Ctrl-C' : `, ${passes} times`) : ''}`);

const say = (line: string) => console.log(line);
const seen = new Map<string, number>();
const HINTS: Record<string, string> = {
  device_limit: 'the gateway admits only so many new device ids a minute (max_new_devices_per_min / MAX_NEW_DEVICES_PER_MIN) or in all (max_devices); the simulator retries after Retry-After',
  device_not_allowed: `the client may post only for its own id unless its cc_clients entry lists devices: for --devices, give it "devices": ["${a.device ?? clientId}-*"]`,
  insufficient_scope: 'the client needs the scopes events:imu:ingest and devices:write',
  inference_unavailable: 'the gateway has no fall model loaded (fall_inference_enabled, or see its log)',
};
const onEvent = (e: SimEvent) => {
  switch (e.type) {
    case 'token':
      if (!a.quiet) say(`token ${e.refreshed ? 'refreshed' : 'received'} (valid ${e.expiresInSec} s; renewed before it expires)`);
      break;
    case 'retry':
      if (!a.quiet) say(`retrying in ${(e.waitMs / 1000).toFixed(1)} s after ${e.what} (attempt ${e.attempt}; same body, same t0)`);
      break;
    case 'heartbeat':
      if (a.verbose || (!a.quiet && ids.length === 1)) say(`${e.device}: heartbeat (battery ${e.battery} %)`);
      break;
    case 'chunk':
      if (a.verbose) say(`${e.device}: chunk t0=${e.t0} ${e.samples} samples, ${e.accepted} accepted`);
      break;
    case 'fall': {
      const al = e.fall.alert;
      say(`${e.device}: FALL decided at ${time(e.fall.ts)} (probability ${e.fall.prob.toFixed(2)}, ${e.fall.source})${al ? `: alert ${al.id} ${al.state}${al.cancel_before ? ` (the wearer may cancel until ${time(Date.parse(al.cancel_before) / 1000)})` : ''}` : ''}`);
      break;
    }
    case 'problem': {
      // The first few of each kind, with what to do; the rest are counted in the summary.
      const kind = `${e.status} ${e.error}`;
      const n = (seen.get(kind) ?? 0) + 1;
      seen.set(kind, n);
      if (n <= 3) say(`${e.device}: HTTP ${e.status} ${e.error}: ${e.description}`);
      if (n === 1 && HINTS[e.error]) say(`  ${HINTS[e.error]}`);
      if (n === 4) say(`  (more "${kind}" answers are counted in the summary)`);
      break;
    }
  }
};

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
try {
  const reports = await simulate({ url: a.url, clientId, clientSecret, caFile: a.ca, device: a.device, devices, location: a.location, recording, speed, chunkSec, heartbeatSec, battery, passes, signal: stop.signal }, onEvent);
  const falls = reports.reduce((n, r) => n + r.falls.length, 0);
  const problems = reports.reduce((n, r) => n + r.problems, 0);
  const chunks = reports.reduce((n, r) => n + r.chunks, 0);
  say(`done: ${reports.length} device${reports.length > 1 ? 's' : ''}, ${chunks} chunks stored, ${falls} fall${falls === 1 ? '' : 's'} decided${problems ? `, ${problems} refused (see above)` : ''}`);
  if (falls) say('open the status page (http://localhost:8099/ standalone, or CareDian in the Home Assistant sidebar) to see what happened');
  process.exit(problems ? 1 : 0);
} catch (err) {
  console.error(`simulator: ${(err as Error).message}${(err as Error & { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED' ? ` (is the gateway running at ${a.url}?)` : ''}`);
  process.exit(1);
}
