// The model's metadata (models/<name>.meta.json): everything the runtime needs to feed the model
// and read its output. Nothing about a particular model is hard-coded elsewhere.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PLACEMENTS } from '../config/schema.js';

const Channel = z.object({
  name: z.string(),
  source: z.enum(['acc', 'gyro']),
  axis: z.number().int().min(0).max(2),
  unit: z.enum(['g', 'deg/s']),
});

export const DETECTORS = ['model', 'threshold', 'either'] as const;
export type Detector = (typeof DETECTORS)[number];

/** One placement's way of deciding: the model with its knobs, the threshold detector, or either. */
const PlacementEntry = z
  .object({
    detector: z.enum(DETECTORS, { error: `detector must be one of ${DETECTORS.join(', ')}` }),
    threshold: z.number().min(0).max(1).optional(),
    smooth_k: z.number().int().min(1).optional(),
    sustain_k: z.number().int().min(1).optional(),
    /** detector either: a threshold-detector decision counts only when a model window ending between its impact and its decision scored at least this (0: always). */
    impact_confirm: z.number().min(0).max(1).optional(),
    /** Another ONNX file beside the metadata, with the same input, window, hop and channels. */
    file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\.onnx$/, { error: 'must be a file name in the model folder ending in .onnx' }).optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be 64 lowercase hex digits' }).optional(),
  })
  .refine((e) => !e.file || e.sha256, { error: 'a placement with its own model file needs that file\'s sha256' })
  .refine((e) => e.impact_confirm === undefined || e.detector === 'either', { error: 'impact_confirm needs detector either (the model confirms the threshold detector)' });

const hasAccXyz = (channels: { source: string; axis: number }[]) => [0, 1, 2].every((a) => channels.some((c) => c.source === 'acc' && c.axis === a));

export const ModelMetaSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    file: z.string().optional(),
    sha256: z.string().optional(),
    input: z.object({ name: z.string(), layout: z.literal('[batch, window, channels]'), dtype: z.literal('float32') }),
    output: z.object({ name: z.string(), meaning: z.string() }),
    sample_rate_hz: z.number().positive().max(1000),
    window_samples: z.number().int().min(2).max(10_000),
    hop_samples: z.number().int().min(1),
    channels: z.array(Channel).min(1),
    requires_gyro: z.boolean(),
    normalisation: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
    decision: z.object({ threshold: z.number().min(0).max(1), smooth_k: z.number().int().min(1), sustain_k: z.number().int().min(1) }),
    training: z.record(z.string(), z.unknown()).optional(),
    metrics: z.record(z.string(), z.unknown()).optional(),
    /** Per placement; a placement not listed uses `unknown`, and `unknown` not listed is the model with `decision`. */
    placements: z.partialRecord(z.enum(PLACEMENTS), PlacementEntry).optional(),
  })
  .refine((m) => m.normalisation.mean.length === m.channels.length && m.normalisation.std.length === m.channels.length, { error: 'normalisation needs one mean and one std per channel' })
  .refine((m) => m.requires_gyro || m.channels.every((c) => c.source !== 'gyro'), { error: 'a model with gyro channels must set requires_gyro' })
  .refine((m) => m.hop_samples <= m.window_samples, { error: 'hop_samples must not exceed window_samples' })
  .refine((m) => hasAccXyz(m.channels) || Object.values(m.placements ?? {}).every((e) => e.detector === 'model'), { error: 'the threshold detector (detector threshold or either) needs the acc x, y and z channels' });

/** Where the model's acceleration x, y, z are in a sample, if it has all three (the threshold detector needs them). */
export function accAxes(meta: Pick<ModelMeta, 'channels'>): [number, number, number] | undefined {
  if (!hasAccXyz(meta.channels)) return undefined;
  return [0, 1, 2].map((a) => meta.channels.findIndex((c) => c.source === 'acc' && c.axis === a)) as [number, number, number];
}

export type ModelMeta = z.infer<typeof ModelMetaSchema>;

export function readModelMeta(path: string): ModelMeta {
  const parsed = ModelMetaSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'meta'}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

/** The metadata file beside a model: models/fallnet.onnx → models/fallnet.meta.json. */
export function metaPathFor(modelPath: string): string {
  return modelPath.replace(/\.onnx$/, '') + '.meta.json';
}
