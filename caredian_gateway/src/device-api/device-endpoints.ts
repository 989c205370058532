// POST /events/fall, /devices/heartbeat and /events/imu: the seed's contract over the ingest core.
import type { AuthInfo } from '../auth/bearer.js';
import type { IngestCore } from '../ingest/ingest-core.js';
import type { DeviceIdentity } from '../ingest/outcomes.js';
import { IMU_LIMIT_BYTES } from '../inference/imu-schema.js';
import type { Endpoint, EndpointSpec } from './endpoint.js';
import { toHttp } from './outcome-http.js';

const identity = (auth: AuthInfo, arrivedAtMs?: number): DeviceIdentity => ({ clientId: auth.clientId, via: 'http', arrivedAtMs });

/** Paths, scopes and body limits: what the device-port workers need to serve them without the core. */
export const DEVICE_ENDPOINTS: readonly EndpointSpec[] = [
  { method: 'POST', path: '/events/fall', kind: 'fall', scope: 'events:fall:ingest', limitBytes: 16 * 1024 },
  { method: 'POST', path: '/devices/heartbeat', kind: 'heartbeat', scope: 'devices:write', limitBytes: 4 * 1024 },
  { method: 'POST', path: '/events/imu', kind: 'imu', scope: 'events:imu:ingest', limitBytes: IMU_LIMIT_BYTES },
];

export function deviceEndpoints(core: IngestCore): Endpoint[] {
  const handlers: Record<string, Endpoint['handle']> = {
    '/events/fall': async (body, auth, at) =>
      toHttp(await core.reportFall(identity(auth, at), body), (v, dup) => ({ ok: true, written: dup ? 0 : 1, ...(dup ? { duplicate: true } : {}), event_id: v.event_id, ...(v.alert ? { alert: v.alert } : {}) })),
    '/devices/heartbeat': async (body, auth, at) => toHttp(await core.heartbeat(identity(auth, at), body), () => ({ ok: true, written: 1 })),
    '/events/imu': async (body, auth, at) => toHttp(await core.imuChunk(identity(auth, at), body), (v) => ({ ok: true, accepted: v.accepted, falls: v.falls, ...(v.alert ? { alert: v.alert } : {}) })),
  };
  return DEVICE_ENDPOINTS.map((s) => ({ ...s, handle: handlers[s.path]! }));
}
