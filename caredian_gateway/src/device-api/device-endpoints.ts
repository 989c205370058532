// POST /events/fall, /devices/heartbeat and /events/imu: the seed's contract over the ingest core.
import type { AuthInfo } from '../auth/bearer.js';
import type { IngestCore } from '../ingest/ingest-core.js';
import type { DeviceIdentity } from '../ingest/outcomes.js';
import { IMU_LIMIT_BYTES } from '../inference/imu-schema.js';
import type { Endpoint } from './endpoint.js';
import { toHttp } from './outcome-http.js';

const identity = (auth: AuthInfo): DeviceIdentity => ({ clientId: auth.clientId, via: 'http' });

export function deviceEndpoints(core: IngestCore): Endpoint[] {
  return [
    {
      method: 'POST',
      path: '/events/fall',
      scope: 'events:fall:ingest',
      limitBytes: 16 * 1024,
      handle: async (body, auth) =>
        toHttp(await core.reportFall(identity(auth), body), (v, dup) => ({ ok: true, written: dup ? 0 : 1, ...(dup ? { duplicate: true } : {}), event_id: v.event_id, ...(v.alert ? { alert: v.alert } : {}) })),
    },
    {
      method: 'POST',
      path: '/devices/heartbeat',
      scope: 'devices:write',
      limitBytes: 4 * 1024,
      handle: async (body, auth) => toHttp(await core.heartbeat(identity(auth), body), () => ({ ok: true, written: 1 })),
    },
    {
      method: 'POST',
      path: '/events/imu',
      scope: 'events:imu:ingest',
      limitBytes: IMU_LIMIT_BYTES,
      handle: async (body, auth) => toHttp(await core.imuChunk(identity(auth), body), (v) => ({ ok: true, accepted: v.accepted, falls: v.falls, ...(v.alert ? { alert: v.alert } : {}) })),
    },
  ];
}
