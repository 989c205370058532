// Validation of POST /events/imu. The envelope goes through zod; the sample arrays (up to 4,000
// rows of three numbers) are checked by one plain loop, which is what keeps a 10 s chunk cheap.
import { z } from 'zod';
import { PLACEMENTS, type Placement } from '../config/schema.js';
import { epochSeconds, safeName } from '../events/schemas.js';

export const MAX_CHUNK_SEC = 10;
export const RATE_MIN = 10;
export const RATE_MAX = 400;
export const MAX_ACC_G = 64;
export const MAX_GYRO_DPS = 5000;
/** 10 s at 400 Hz with gyro, written with generous number formatting. */
export const IMU_LIMIT_BYTES = 768 * 1024;

const rows = z.array(z.unknown(), { error: 'must be an array of [x, y, z] samples' });

export const ImuEnvelopeSchema = z.object({
  device_id: safeName,
  location: safeName.optional(),
  rate_hz: z.number({ error: `must be a number of samples per second (${RATE_MIN}-${RATE_MAX})` }).min(RATE_MIN, { error: `must be at least ${RATE_MIN}` }).max(RATE_MAX, { error: `must be at most ${RATE_MAX}` }),
  t0: epochSeconds.optional().describe('epoch seconds of the first sample; without it the chunk continues the previous one'),
  acc: rows.min(1, { error: 'must hold at least one sample' }).describe('acceleration in g (gravity included), device frame, [[ax, ay, az], ...]'),
  gyro: rows.optional().describe('rotation in deg/s, device frame, same length as acc'),
  placement: z
    .enum(PLACEMENTS, { error: `must be one of ${PLACEMENTS.join(', ')}` })
    .optional()
    .describe("where the device is worn; without it the device's last declared placement, else the devices option's, else unknown"),
});

const AlertBriefSchema = z.object({ id: z.string(), state: z.string(), cancel_before: z.string().optional() });

export const ImuResponseSchema = z.object({
  ok: z.literal(true),
  accepted: z.number().int().describe('samples used (a retry overlapping earlier samples is not fed twice)'),
  falls: z.array(z.object({ id: z.string(), ts: z.number(), prob: z.number(), source: z.enum(['model', 'sensor', 'both']), alert: AlertBriefSchema.optional() })),
  alert: AlertBriefSchema.optional().describe('the alert of the last fall decided in this chunk'),
});

export interface ImuBody {
  device_id: string;
  location?: string;
  rate_hz: number;
  t0?: number;
  acc: number[][];
  gyro?: number[][];
  placement?: Placement;
}

/** Problems with the body, or the body typed. Nothing here touches any device state. */
export function parseImuBody(body: unknown, requiresGyro: boolean): { ok: true; body: ImuBody } | { ok: false; problems: string[] } {
  const env = ImuEnvelopeSchema.safeParse(body);
  if (!env.success) return { ok: false, problems: env.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`) };
  const b = env.data;
  const problems: string[] = [];
  const maxSamples = Math.floor(MAX_CHUNK_SEC * b.rate_hz + 1e-9);
  if (b.acc.length > maxSamples) problems.push(`acc: ${b.acc.length} samples at ${b.rate_hz} Hz is more than ${MAX_CHUNK_SEC} s (at most ${maxSamples}); send shorter chunks`);
  if (b.gyro && b.gyro.length !== b.acc.length) problems.push(`gyro: has ${b.gyro.length} samples, acc has ${b.acc.length}; they must be equal`);
  if (requiresGyro && !b.gyro) problems.push('gyro: required by the installed model');
  if (problems.length) return { ok: false, problems };
  checkRows('acc', b.acc, MAX_ACC_G, 'g', problems);
  if (b.gyro) checkRows('gyro', b.gyro, MAX_GYRO_DPS, 'deg/s', problems);
  if (problems.length) return { ok: false, problems };
  return { ok: true, body: b as ImuBody };
}

function checkRows(name: string, rows: unknown[], limit: number, unit: string, problems: string[]): void {
  for (let i = 0; i < rows.length && problems.length < 5; i++) {
    const r = rows[i];
    if (!Array.isArray(r) || r.length !== 3) {
      problems.push(`${name}.${i}: must be [x, y, z]`);
      continue;
    }
    let sq = 0;
    for (const v of r) {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        problems.push(`${name}.${i}: values must be finite numbers`);
        sq = NaN;
        break;
      }
      sq += v * v;
    }
    if (sq > limit * limit) problems.push(`${name}.${i}: magnitude ${Math.sqrt(sq).toFixed(1)} ${unit} is beyond the plausible ${limit} ${unit}`);
  }
}
