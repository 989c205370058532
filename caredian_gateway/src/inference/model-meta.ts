// The model's metadata (models/<name>.meta.json): everything the runtime needs to feed the model
// and read its output. Nothing about a particular model is hard-coded elsewhere.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const Channel = z.object({
  name: z.string(),
  source: z.enum(['acc', 'gyro']),
  axis: z.number().int().min(0).max(2),
  unit: z.enum(['g', 'deg/s']),
});

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
  })
  .refine((m) => m.normalisation.mean.length === m.channels.length && m.normalisation.std.length === m.channels.length, { error: 'normalisation needs one mean and one std per channel' })
  .refine((m) => m.requires_gyro || m.channels.every((c) => c.source !== 'gyro'), { error: 'a model with gyro channels must set requires_gyro' })
  .refine((m) => m.hop_samples <= m.window_samples, { error: 'hop_samples must not exceed window_samples' });

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
