// The model files a metadata names, checked against their sha256 before any is used, and loaded
// once each (the gateway and `npm run eval` alike).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { ModelMeta } from './model-meta.js';
import { OnnxWindowModel } from './window-model.js';

/** Why the files cannot be used (missing, or not what the metadata's sha256 says), or undefined. */
export function checkModelFiles(files: { path: string; sha256?: string }[], metaPath: string): string | undefined {
  for (const f of files) {
    if (!existsSync(f.path)) return `no model file at ${f.path}`;
    if (f.sha256 && createHash('sha256').update(readFileSync(f.path)).digest('hex') !== f.sha256) return `${f.path} does not match the sha256 in ${metaPath}`;
  }
  return undefined;
}

/** Loads every file (checked first); on any failure closes what it loaded and throws. */
export async function loadModelFiles(meta: ModelMeta, files: { path: string; sha256?: string }[], metaPath: string, o: { threads?: number } = {}): Promise<Map<string, OnnxWindowModel>> {
  const problem = checkModelFiles(files, metaPath);
  if (problem) throw new Error(problem);
  const models = new Map<string, OnnxWindowModel>();
  try {
    for (const f of files) models.set(f.path, await OnnxWindowModel.load(f.path, meta, o));
  } catch (err) {
    for (const m of models.values()) await m.close().catch(() => undefined);
    throw err;
  }
  return models;
}
