// Simulated devices: each streams a recording to POST /events/imu in chunks on its own timeline
// (in real time, faster, or as fast as the gateway answers), sends heartbeats with a battery
// level, and reports every fall the gateway decides. Used by `npm run simulate` and the tests.
import { setMaxListeners } from 'node:events';
import { DeviceClient, dispatcherFor, type DeviceClientOptions } from './device-client.js';
import type { Recording } from './synthetic-motion.js';

export interface SimulationOptions {
  url: string;
  clientId: string;
  clientSecret: string;
  caFile?: string;
  /** Device id (default: the client id); with `devices` > 1, `<device>-001`, `<device>-002`, ... */
  device?: string;
  devices?: number;
  location?: string;
  recording: Recording;
  /** 1: real time; 4: four times faster; 0: as fast as the gateway answers. */
  speed: number;
  chunkSec: number;
  heartbeatSec: number;
  battery?: number;
  /** How many times the recording is played (Infinity: until stopped). */
  passes: number;
  signal?: AbortSignal;
}

export interface FallSeen {
  id: string;
  ts: number;
  prob: number;
  source: string;
  alert?: { id: string; state: string; cancel_before?: string };
}

export type SimEvent =
  | { type: 'token'; expiresInSec: number; refreshed: boolean }
  | { type: 'retry'; what: string; waitMs: number; attempt: number }
  | { type: 'heartbeat'; device: string; battery: number }
  /** ms: from sending the chunk to its answer (the gateway decides before it answers); lateMs: sent after its time. */
  | { type: 'chunk'; device: string; t0: number; samples: number; accepted: number; ms: number; lateMs: number }
  | { type: 'fall'; device: string; fall: FallSeen }
  | { type: 'problem'; device: string; status: number; error: string; description: string };

export interface DeviceReport {
  device_id: string;
  chunks: number;
  samples: number;
  falls: FallSeen[];
  problems: number;
}

/** Refusals a retry cannot fix: the device stops (bad body, not allowed, not configured). */
const FATAL = new Set([400, 401, 403, 404, 409, 413, 415]);

export function deviceIds(o: Pick<SimulationOptions, 'device' | 'clientId' | 'devices'>): string[] {
  const base = o.device ?? o.clientId;
  const n = o.devices ?? 1;
  return n <= 1 ? [base] : Array.from({ length: n }, (_, i) => `${base}-${String(i + 1).padStart(3, '0')}`);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export async function simulate(o: SimulationOptions, on: (e: SimEvent) => void = () => {}): Promise<DeviceReport[]> {
  const ids = deviceIds(o);
  // Every device waits on the same stop signal.
  if (o.signal) setMaxListeners(ids.length + 10, o.signal);
  const co: DeviceClientOptions = {
    url: o.url,
    clientId: o.clientId,
    clientSecret: o.clientSecret,
    dispatcher: dispatcherFor({ caFile: o.caFile, connections: Math.min(64, ids.length) }),
    onRetry: (what, waitMs, attempt) => on({ type: 'retry', what, waitMs, attempt }),
    onToken: (expiresInSec, refreshed) => on({ type: 'token', expiresInSec, refreshed }),
  };
  // One client for all simulated devices (a hub): one token, refreshed for all.
  const client = new DeviceClient(co);
  await client.token();
  return Promise.all(ids.map((id, i) => runDevice(client, o, id, o.speed > 0 ? (i * o.chunkSec * 1000) / ids.length / o.speed : 0, on)));
}

async function runDevice(client: DeviceClient, o: SimulationOptions, deviceId: string, staggerMs: number, on: (e: SimEvent) => void): Promise<DeviceReport> {
  const rep: DeviceReport = { device_id: deviceId, chunks: 0, samples: 0, falls: [], problems: 0 };
  const rec = o.recording;
  const per = Math.max(1, Math.round(o.chunkSec * rec.rateHz));
  const durationSec = rec.acc.length / rec.rateHz;
  const bootMs = Date.now();
  let battery = o.battery ?? 97 - (deviceId.length % 7);
  let nextHeartbeatMs = 0;
  let lastEnd = -Infinity;
  await sleep(staggerMs, o.signal);

  const heartbeat = async () => {
    if (o.battery === undefined) battery = Math.max(5, battery - 0.01);
    const a = await client.post('/devices/heartbeat', { device_id: deviceId, battery: Math.round(battery), rssi: -58, fw: 'caredian-sim-1', uptime_s: Math.round((Date.now() - bootMs) / 1000) });
    if (a.status === 200) on({ type: 'heartbeat', device: deviceId, battery: Math.round(battery) });
    else problem(a.status, a.body);
    nextHeartbeatMs = Date.now() + o.heartbeatSec * 1000;
  };
  const problem = (status: number, body: Record<string, unknown>) => {
    rep.problems++;
    on({ type: 'problem', device: deviceId, status, error: String(body.error ?? ''), description: String(body.error_description ?? (Array.isArray(body.problems) ? body.problems.join('; ') : '')) });
  };

  for (let pass = 0; pass < o.passes && !o.signal?.aborted; pass++) {
    // The recording's samples are placed so that none is in the future when its chunk is sent:
    // real time starts now; faster starts in the past.
    const nowSec = Date.now() / 1000;
    let start = o.speed > 0 ? nowSec - durationSec * (1 - 1 / o.speed) : nowSec - durationSec - 1;
    if (start <= lastEnd) {
      // A second pass faster than real time has to wait until it fits behind the first.
      await sleep((lastEnd - start + 0.1) * 1000, o.signal);
      start = Date.now() / 1000 - (o.speed > 0 ? durationSec * (1 - 1 / o.speed) : durationSec + 1);
    }
    start = Math.round(start * 1000) / 1000;
    const wallStart = Date.now();
    for (let i = 0; i < rec.acc.length && !o.signal?.aborted; i += per) {
      const acc = rec.acc.slice(i, i + per);
      const due = wallStart + (((i + acc.length) / rec.rateHz) * 1000) / (o.speed || Infinity);
      if (o.speed > 0) await sleep(due - Date.now(), o.signal);
      if (o.signal?.aborted) break;
      if (Date.now() >= nextHeartbeatMs) await heartbeat();
      const t0 = Math.round((start + i / rec.rateHz) * 1000) / 1000;
      const sent = performance.now();
      const lateMs = o.speed > 0 ? Math.max(0, Date.now() - due) : 0;
      const a = await client.post('/events/imu', { device_id: deviceId, ...(o.location ? { location: o.location } : {}), rate_hz: rec.rateHz, t0, acc });
      const ms = performance.now() - sent;
      if (a.status !== 200) {
        problem(a.status, a.body);
        if (FATAL.has(a.status)) return rep;
        continue;
      }
      rep.chunks++;
      rep.samples += Number(a.body.accepted) || 0;
      on({ type: 'chunk', device: deviceId, t0, samples: acc.length, accepted: Number(a.body.accepted) || 0, ms, lateMs });
      for (const f of (a.body.falls as FallSeen[] | undefined) ?? []) {
        rep.falls.push(f);
        on({ type: 'fall', device: deviceId, fall: f });
      }
    }
    lastEnd = start + durationSec;
  }
  return rep;
}
