"""Compare recipes and pick the decision knobs on out-of-fold probabilities (see cv.py).

  /usr/bin/python3 training/choose.py DIR [--seeds 7,8,9]
For a single model (each seed alone) and for ensembles of the first n seeds (probabilities
averaged), it picks the knobs by a fixed rule: among (smoothK, sustainK, threshold) with
at least 98 % of the out-of-fold falls decided within 2 s of the impact as a device sending 1 s
chunks sees it (the chunk that carries the decision must have ended), the fewest false alarms;
then the widest run of neighbouring thresholds with that count, and the middle of that run.
"""
import argparse
import glob
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import recipe as T  # noqa: E402

COOLDOWN_WINDOWS = 60 * T.RATE // T.HOP
# A fall counts as caught on time when a device sending CHUNK_SEC chunks (what `npm run eval` does)
# has its decision within ON_TIME_SEC of the impact: the window's end, plus the wait for the end of
# the chunk that carries it.
MIN_ON_TIME, ON_TIME_SEC, CHUNK_SEC = 0.98, 2.0, 1.0
RULE = (f"out-of-fold share of falls decided within {ON_TIME_SEC} s of the impact, counted at the end of the "
        f"{CHUNK_SEC:g} s chunk carrying the decision, >= {MIN_ON_TIME}; fewest false alarms; widest run of "
        "neighbouring thresholds with that count; its middle")
GRID = [x / 100 for x in range(30, 100, 2)]


def load(folder, seeds):
    per_seed = {}
    for path in glob.glob(os.path.join(folder, "oof_f*_s*.npz")):
        seed = int(re.search(r"_s(\d+)\.npz$", path).group(1))
        if seed not in seeds:
            continue
        with np.load(path) as z:
            for k in z.files:
                if ":" not in k:
                    per_seed.setdefault(seed, {})[k] = (z[k], int(z["impact:" + k][0]), int(z["len:" + k][0]))
    return per_seed


def smoothed(probs, smooth_k):
    """Mean of the last smooth_k windows (fewer at the start), as the runtime's decider smooths."""
    c = np.concatenate([[0.0], np.cumsum(probs, dtype=np.float64)])
    i = np.arange(1, len(probs) + 1)
    lo = np.maximum(0, i - smooth_k)
    return (c[i] - c[lo]) / (i - lo)


def decisions(smooth, thr, sustain_k):
    """Window indices where the runtime's decider would raise a fall (60 s cooldown)."""
    out, run, quiet_until = [], 0, -1
    for i, above in enumerate((smooth >= thr).tolist()):
        run = run + 1 if above else 0
        if run >= sustain_k and i > quiet_until:
            out.append(i)
            quiet_until, run = i + COOLDOWN_WINDOWS, 0
    return out


def score(trials, thr, smooth_k, sustain_k, cache=None):
    tp = nf = fa = fa_trials = on_time = 0
    adl_sec, delays, fa_names = 0.0, [], []
    for name, (p, impact, n) in trials.items():
        key = (name, smooth_k)
        if cache is None or key not in cache:
            sm = smoothed(p, smooth_k)
            if cache is not None:
                cache[key] = sm
        else:
            sm = cache[key]
        d = decisions(sm, thr, sustain_k)
        if impact >= 0:
            nf += 1
            if d:  # as `npm run eval` counts: any decision in a fall trial; the delay is the first one's
                tp += 1
                end = T.WINDOW + d[0] * T.HOP  # samples seen when the window is scored
                delays.append((end - 1 - impact) / T.RATE)
                chunk = int(CHUNK_SEC * T.RATE)
                on_time += ((-(-end // chunk)) * chunk - 1 - impact) / T.RATE <= ON_TIME_SEC
        else:
            adl_sec += n / T.RATE
            fa += len(d)
            fa_trials += bool(d)
            if d:
                fa_names.append(name)
    return {"sens": tp / nf, "on_time": on_time / nf, "spec": 1 - fa_trials / (len(trials) - nf), "fa": fa, "fa_h": fa / (adl_sec / 3600),
            "p95": float(np.percentile(delays, 95)), "max": max(delays), "tp": tp, "nf": nf, "fa_names": fa_names}


def choose(trials):
    best, cache = None, {}
    for smooth_k in (1, 2, 3):
        for sustain_k in (1, 2, 3, 4):
            rows = [(thr, score(trials, thr, smooth_k, sustain_k, cache)) for thr in GRID]
            ok = [(thr, r) for thr, r in rows if r["on_time"] >= MIN_ON_TIME]
            if not ok:
                continue
            low = min(r["fa"] for _, r in ok)
            runs, cur = [], []
            for thr, r in rows:
                if r["on_time"] >= MIN_ON_TIME and r["fa"] == low:
                    cur.append((thr, r))
                else:
                    if cur:
                        runs.append(cur)
                    cur = []
            if cur:
                runs.append(cur)
            run = max(runs, key=len)
            key = (-low, len(run), -(smooth_k + sustain_k))
            if best is None or key > best[0]:
                best = (key, smooth_k, sustain_k, run)
    _, smooth_k, sustain_k, run = best
    thr, r = run[len(run) // 2]
    return {"threshold": thr, "smooth_k": smooth_k, "sustain_k": sustain_k,
            "range": (run[0][0], run[-1][0]), **r}


def ensemble(per_seed, seeds):
    """Out-of-fold probabilities of the ensemble of these seeds: the members' mean, window by window."""
    names = sorted(set.intersection(*(set(per_seed[s]) for s in seeds)))
    return {k: (np.mean([per_seed[s][k][0] for s in seeds], axis=0), *per_seed[seeds[0]][k][1:]) for k in names}


def show(label, c):
    print(f"{label}: threshold {c['threshold']} (range {c['range'][0]}-{c['range'][1]}) smoothK {c['smooth_k']} "
          f"sustainK {c['sustain_k']}: sensitivity {c['sens']:.3f} ({c['tp']}/{c['nf']}, on time {c['on_time']:.3f}), specificity {c['spec']:.4f}, "
          f"{c['fa']} false alarms = {c['fa_h']:.2f}/h, delay p95 {c['p95']:.2f} max {c['max']:.2f} s "
          f"{' '.join(c['fa_names'][:8])}", flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("folder")
    p.add_argument("--seeds", default="7,8,9")
    args = p.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    per_seed = load(args.folder, seeds)
    seeds = [s for s in seeds if s in per_seed]
    for s in seeds:
        show(f"seed {s}", choose(per_seed[s]))
    for n in range(2, len(seeds) + 1):
        show(f"ensemble of {n}", choose(ensemble(per_seed, seeds[:n])))


if __name__ == "__main__":
    main()
