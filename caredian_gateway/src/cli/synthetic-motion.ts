// Made-up motion recordings for a first try without any dataset: a walk, and a walk that ends in a
// fall (a stumble, the impact, then lying still). 50 Hz, acceleration in g with gravity included,
// device frame (y vertical when upright), like the datasets' csv.gz files. Deterministic (seeded).

export const SYNTHETIC_RATE_HZ = 50;

export interface Recording {
  name: string;
  rateHz: number;
  acc: number[][];
  /** Seconds from the start to the fall's impact (synthetic falls). */
  impactSec?: number;
}

type Vec = [number, number, number];

/** mulberry32: small, fast, good enough for noise. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const UPRIGHT: Vec = [0, -1, 0];
/** Gravity in the device frame when lying on the side (as in a SisFall trial after a forward fall). */
const LYING: Vec = norm([-0.56, 0.37, -0.85]);

function norm(v: Vec): Vec {
  const m = Math.hypot(...v);
  return [v[0] / m, v[1] / m, v[2] / m];
}

const round = (v: number) => Math.round(v * 1000) / 1000;

/** One walking sample at time t (s): heel strikes at ~1.8 steps/s on the vertical axis, sway on the others. */
function walkSample(t: number, rnd: () => number, cadenceHz: number): Vec {
  const phase = 2 * Math.PI * cadenceHz * t;
  // A heel strike is a short sharp peak once a step, the push-off a broader dip between them.
  const strike = Math.exp(-(((phase % (2 * Math.PI)) - 0.6) ** 2) / 0.08);
  const vertical = -1 - 0.55 * strike + 0.18 * Math.cos(phase);
  const sway = 0.12 * Math.sin(phase / 2);
  const foreAft = 0.15 * Math.sin(phase + 0.8) - 0.05;
  return [sway + (rnd() - 0.5) * 0.06, vertical + (rnd() - 0.5) * 0.06, foreAft + (rnd() - 0.5) * 0.06];
}

function standSample(rnd: () => number): Vec {
  return [UPRIGHT[0] + (rnd() - 0.5) * 0.02, UPRIGHT[1] + (rnd() - 0.5) * 0.02, UPRIGHT[2] + (rnd() - 0.5) * 0.02];
}

/** A walk with a pause and a turn: daily activity that must never raise a fall. */
export function syntheticWalk(seconds = 60, seed = 7): Recording {
  const rnd = random(seed);
  const acc: number[][] = [];
  const n = Math.round(seconds * SYNTHETIC_RATE_HZ);
  for (let i = 0; i < n; i++) {
    const t = i / SYNTHETIC_RATE_HZ;
    const cycle = t % 30;
    // 20 s walking, 4 s standing (a pause at a window), 6 s walking a little faster.
    const s = cycle < 20 ? walkSample(t, rnd, 1.8) : cycle < 24 ? standSample(rnd) : walkSample(t, rnd, 2.0);
    acc.push(s.map(round));
  }
  return { name: 'synthetic-walk', rateHz: SYNTHETIC_RATE_HZ, acc };
}

/**
 * A walk that ends in a forward fall: 6 s walking, a stumble (the body drops: less than 1 g while
 * turning towards the floor), the impact (a few samples of 4-8 g), a short rebound, then lying
 * still on the side for the rest of the recording.
 */
export function syntheticFall(seconds = 20, seed = 11, walkSec = 6): Recording {
  const rnd = random(seed);
  const acc: number[][] = [];
  const n = Math.round(seconds * SYNTHETIC_RATE_HZ);
  const dropSec = 0.5;
  const impactAt = walkSec + dropSec;
  const impact: Vec[] = [
    [-0.5, 1.6, -2.2],
    [-1.2, 4.5, -3.1],
    [-1.3, 7.8, -1.0],
    [0.3, 2.2, -1.6],
  ];
  for (let i = 0; i < n; i++) {
    const t = i / SYNTHETIC_RATE_HZ;
    let s: Vec;
    if (t < walkSec) s = walkSample(t, rnd, 1.8);
    else if (t < impactAt) {
      // Turning from upright to lying while the body drops: the measured magnitude falls to ~0.3 g.
      const f = (t - walkSec) / dropSec;
      const g: Vec = norm([UPRIGHT[0] + (LYING[0] - UPRIGHT[0]) * f, UPRIGHT[1] + (LYING[1] - UPRIGHT[1]) * f, UPRIGHT[2] + (LYING[2] - UPRIGHT[2]) * f]);
      const scale = 1 - 0.7 * Math.sin(Math.PI * Math.min(1, f * 1.1));
      s = [g[0] * scale + (rnd() - 0.5) * 0.1, g[1] * scale + (rnd() - 0.5) * 0.1, g[2] * scale + (rnd() - 0.5) * 0.1];
    } else {
      const k = Math.round((t - impactAt) * SYNTHETIC_RATE_HZ);
      if (k < impact.length) s = impact[k]!;
      else {
        // A damped rebound, then stillness (a little sensor noise and breathing).
        const after = t - impactAt - impact.length / SYNTHETIC_RATE_HZ;
        const ring = 0.6 * Math.exp(-after / 0.12) * Math.sin(2 * Math.PI * 7 * after);
        const breath = 0.004 * Math.sin(2 * Math.PI * 0.25 * t);
        s = [LYING[0] + ring * 0.5 + (rnd() - 0.5) * 0.01, LYING[1] + ring + breath + (rnd() - 0.5) * 0.01, LYING[2] - ring * 0.4 + (rnd() - 0.5) * 0.01];
      }
    }
    acc.push(s.map(round));
  }
  return { name: 'synthetic-fall', rateHz: SYNTHETIC_RATE_HZ, acc, impactSec: impactAt + 2 / SYNTHETIC_RATE_HZ };
}
