// Validation for what devices send. Names are restricted to a safe charset so nothing can
// break InfluxDB line protocol or log lines (no newlines, control characters, quotes, backslash).
import { z } from 'zod';
import { SAFE_NAME, SAFE_NAME_RULE } from '../core/names.js';

export const safeName = z.string({ error: 'must be a string' }).regex(SAFE_NAME, { error: SAFE_NAME_RULE });

export const EVENT_ID = /^[A-Za-z0-9._:-]{1,64}$/;
export const eventId = z.string({ error: 'must be a string' }).regex(EVENT_ID, { error: '1-64 characters of A-Z a-z 0-9 . _ : -' });

/** Event kinds a device may report. `fall` is the one that alerts. */
export const EVENT_KINDS = ['fall', 'help', 'near_fall', 'sos', 'inactivity', 'idle', 'walk', 'run', 'stand', 'sit', 'lie', 'getup', 'none'] as const;

const EPOCH_2000 = 946_684_800;
/** Year 5138 in seconds, 1973 in milliseconds: beyond it the device sends milliseconds. */
const MILLISECONDS_FROM = 1e11;

/** How far ahead of the gateway's clock a time may be is the ingest core's check (max_future_skew_sec). */
export const epochSeconds = z
  .number({ error: 'must be epoch seconds (a number)' })
  .min(EPOCH_2000, { error: 'must be epoch seconds after 2000-01-01' })
  .refine((v) => v < MILLISECONDS_FROM, { error: 'looks like milliseconds; send epoch seconds' });

export const FallEventSchema = z.object({
  device_id: safeName,
  location: safeName.optional(),
  event: z.enum(EVENT_KINDS, { error: `must be one of ${EVENT_KINDS.join(', ')}` }),
  prob: z.number({ error: 'must be a number between 0 and 1' }).min(0, { error: 'must be between 0 and 1' }).max(1, { error: 'must be between 0 and 1' }),
  ts: epochSeconds.optional().describe('when it happened, epoch seconds (integer or fractional); default: now'),
  event_id: eventId.optional().describe('client-chosen id; a retry with the same id within a day is not stored twice'),
});
export type FallEventBody = z.infer<typeof FallEventSchema>;

export const FallEventResponseSchema = z.object({
  ok: z.literal(true),
  written: z.number().int().describe('1 when stored, 0 for a retry already stored'),
  event_id: z.string(),
  duplicate: z.boolean().optional(),
  alert: z.object({ id: z.string(), state: z.enum(['pending', 'open', 'acknowledged', 'cancelled']), cancel_before: z.string().optional().describe('while pending: the wearer may cancel (POST /alerts/{id}/cancel) until then') }).optional().describe('the alert this fall opened or joined'),
});

export const HeartbeatSchema = z.object({
  device_id: safeName,
  battery: z.number({ error: 'must be a percentage 0-100' }).min(0).max(100).optional(),
  rssi: z.number({ error: 'must be dBm between -150 and 0' }).min(-150).max(0).optional(),
  fw: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9._+-]{1,32}$/, { error: '1-32 characters of A-Z a-z 0-9 . _ + -' }).optional(),
  uptime_s: z.number({ error: 'must be seconds (a number >= 0)' }).min(0).max(20 * 365 * 86400).optional(),
});

export const ErrorSchema = z.object({
  ok: z.literal(false),
  error: z.string(),
  error_description: z.string(),
  problems: z.array(z.string()).optional(),
});
