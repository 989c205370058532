// Windows scored and falls decided per placement, read from whatever the inference module keeps
// in its `stats` object when scraped. Read by shape, not by type, so the inference module can
// shape its counters as it likes: { wrist: { windows, decisions } }, the same under `placements`
// (or `byPlacement`, `perPlacement`), { windows: { wrist: n }, decisions: { wrist: n } }, or a Map.
export interface PlacementCounts {
  windows?: number;
  decisions?: number;
}

const NESTED = ['placements', 'byPlacement', 'perPlacement', 'per_placement'];
const WINDOWS = ['windows', 'windows_scored', 'windowsScored'];
const DECISIONS = ['decisions', 'decided', 'falls'];
/** Placement names as labels: what the schema allows, kept short and plain. */
const PLACEMENT = /^[a-z][a-z0-9_]{0,31}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const entries = (v: unknown): [string, unknown][] => (v instanceof Map ? [...v.entries()].filter((e): e is [string, unknown] => typeof e[0] === 'string') : isObject(v) ? Object.entries(v) : []);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);
const pick = (o: unknown, names: string[]): unknown => names.map((n) => (o instanceof Map ? o.get(n) : isObject(o) ? o[n] : undefined)).find((v) => v !== undefined);

export function placementCounts(stats: unknown): Map<string, PlacementCounts> {
  const out = new Map<string, PlacementCounts>();
  const add = (placement: string, field: keyof PlacementCounts, v: unknown) => {
    const n = count(v);
    if (n === undefined || !PLACEMENT.test(placement)) return;
    out.set(placement, { ...out.get(placement), [field]: n });
  };
  const nested = pick(stats, NESTED);
  if (nested !== undefined) return placementCounts(nested);
  // { windows: { wrist: n }, decisions: { wrist: n } }
  const w = pick(stats, WINDOWS);
  const d = pick(stats, DECISIONS);
  if (isObject(w) || w instanceof Map || isObject(d) || d instanceof Map) {
    for (const [p, n] of entries(w)) add(p, 'windows', n);
    for (const [p, n] of entries(d)) add(p, 'decisions', n);
    return out;
  }
  // { wrist: { windows, decisions } }
  for (const [p, c] of entries(stats)) {
    add(p, 'windows', pick(c, WINDOWS));
    add(p, 'decisions', pick(c, DECISIONS));
  }
  return out;
}
