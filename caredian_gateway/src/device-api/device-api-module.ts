// The device HTTP input: fall reports, heartbeats and IMU chunks over the ingest core, served by
// the fast path (no Origin header) and by Express (browser requests with CORS), documented once.
import { z } from 'zod';
import type { Logger } from '../core/logger.js';
import type { GatewayModule, RawHandler, RouteDoc } from '../core/module.js';
import type { TokenService } from '../auth/tokens.js';
import { ErrorSchema, FallEventResponseSchema, FallEventSchema, HeartbeatSchema } from '../events/schemas.js';
import { ImuEnvelopeSchema, ImuResponseSchema } from '../inference/imu-schema.js';
import type { IngestCore } from '../ingest/ingest-core.js';
import { deviceEndpoints } from './device-endpoints.js';
import { endpointRouter } from './express-endpoint.js';
import { FastPath } from './fast-path.js';
import type { RefusalObserver } from '../ingest/outcomes.js';

export class DeviceApiModule implements GatewayModule {
  readonly name = 'device_api';
  /** The device endpoints with their handlers over the core (the workers relay to these). */
  readonly endpoints;
  private readonly fast: FastPath;

  constructor(
    core: IngestCore,
    private readonly tokens: TokenService,
    log: Logger,
  ) {
    this.endpoints = deviceEndpoints(core);
    this.fast = new FastPath(this.endpoints, tokens, log);
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  /** The metrics: requests the fast path refuses before the ingest core. */
  observeRefusals(fn: RefusalObserver): void {
    this.fast.observeRefusals(fn);
  }

  rawHandlers(): RawHandler[] {
    return [(req, res) => this.fast.handle(req, res)];
  }

  deviceRoutes() {
    return [endpointRouter(this.endpoints, this.tokens)];
  }

  docs(): RouteDoc[] {
    // Answers every device input shares: who may speak for which device, and the caps on devices.
    const common = {
      401: { description: 'missing or invalid token' },
      403: { description: 'insufficient_scope, or device_not_allowed: the client may not post for that device_id (see device ownership)', schema: ErrorSchema },
      413: { description: 'body too large (answered as soon as the limit is passed, chunked or not)', schema: ErrorSchema },
      415: { description: 'not JSON, compressed, or not UTF-8', schema: ErrorSchema },
      429: { description: 'device_limit: a new device past max_devices or past max_new_devices_per_min; nothing stored', schema: ErrorSchema },
    };
    return [
      {
        method: 'post', path: '/events/fall', summary: 'Report an event (fall, sit, walk, ...) from a device', scope: 'events:fall:ingest',
        description: 'A 200 means the event is stored durably. Retrying with the same event_id within a day is acknowledged without storing twice.',
        body: FallEventSchema,
        responses: { 200: { description: 'stored (or an identical retry: duplicate true); `alert` is the alert the fall opened or joined, `pending` while the wearer can still cancel it', schema: FallEventResponseSchema }, 400: { description: 'invalid body, or ts too far in the future (max_future_skew_sec)', schema: ErrorSchema }, ...common, 409: { description: 'event_id_conflict: the event_id was used for a different event; the stored id is named', schema: ErrorSchema }, 503: { description: 'backlog full, disk full or storage failing; retry after Retry-After seconds' } },
      },
      {
        method: 'post', path: '/events/imu', summary: 'Stream raw motion data; the gateway decides falls with its model', scope: 'events:imu:ingest',
        description: 'Chunks of up to 10 s at 10-400 Hz, acceleration in g (gravity included), rotation in deg/s, device frame. Samples follow their own timeline (t0 + i/rate_hz); without t0 a chunk continues the previous one; overlapping samples (a retry) are not fed twice; a gap over 1 s restarts the window. Falls decided while processing the chunk are stored durably before the response lists them.',
        body: ImuEnvelopeSchema,
        responses: { 200: { description: 'processed; each decided fall names its alert, and `alert` is the last one', schema: ImuResponseSchema }, 400: { description: 'invalid body (lengths, non-finite or implausible values, over 10 s, gyro required by the model, samples too far in the future)', schema: ErrorSchema }, ...common, 503: { description: 'inference disabled or unavailable, or storage full; see error' } },
      },
      {
        method: 'post', path: '/devices/heartbeat', summary: 'Device liveness, battery, signal and firmware', scope: 'devices:write',
        body: HeartbeatSchema,
        responses: { 200: { description: 'stored', schema: z.object({ ok: z.literal(true), written: z.literal(1) }) }, 400: { description: 'invalid body', schema: ErrorSchema }, ...common, 503: { description: 'retry later' } },
      },
    ];
  }
}
