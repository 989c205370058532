"""Experiment helper (not part of `npm run train`): compare LODO probabilities of one held-out dataset between recipes.

  OMP_NUM_THREADS=1 chrt -i 0 nice -n 19 /usr/bin/python3 training/experiments/lodo_compare.py DATASET NAME=SPEC ...
SPEC: a .json ({trial key: [prob, ...]}, e.g. the shipped LODO ONNX scored by training/window_probs.mjs dataset=NAME --raw),
a cv.py oof_*.npz, or A+B (the mean of two, window by window: a 2-network ensemble).
(a) the knobs the shipped LODO model carries (chosen by choose.py's rule WITHOUT this dataset, on the
shipped recipe's probabilities), applied to each probability set: the card's LODO rows for the shipped one;
(b) ranking quality, no knob choice: the model alone, best sensitivity over smooth_k/sustain_k/threshold
with at most B false alarms per hour of this dataset's ADL (an oracle applied equally to every set),
and the trial-level AUC of the highest window probability.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import choose  # noqa: E402
import data  # noqa: E402
import recipe as T  # noqa: E402

BUDGETS = (0.5, 1.0, 2.0, 5.0)


def load_spec(spec):
    if "+" in spec:
        parts = [load_spec(s) for s in spec.split("+")]
        return {k: np.mean([p[k] for p in parts], axis=0).astype(np.float32) for k in parts[0]}
    if spec.endswith(".json"):
        with open(spec) as f:
            return {k: np.asarray(v, dtype=np.float32) for k, v in json.load(f).items()}
    with np.load(spec) as z:
        return {k: z[k] for k in z.files}


def auc(pos, neg):
    """P(a fall trial's highest window probability > an ADL trial's), ties counted half."""
    pos, neg = np.asarray(pos, np.float64)[:, None], np.asarray(neg, np.float64)[None, :]
    return float((pos > neg).mean() + 0.5 * (pos == neg).mean())


def main():
    ds = sys.argv[1]
    specs = [a.split("=", 1) for a in sys.argv[2:]]
    root = os.path.join(HERE, "..", ".work-exp")
    acc, trials = data.load(data.DEFAULT_ROOT, os.path.join(root, "data"), T.HELD_OUT)
    trials = [t for t in trials if t["dataset"] == ds]
    with open(os.path.join(HERE, "..", "..", "models", "lodo", f"fallnet-without-{ds}.meta.json")) as f:
        meta = json.load(f)
    sim = meta["training"]["lodo_python_simulation"]["placements"]
    out = {}
    for name, spec in specs:
        probs = load_spec(spec)
        tables = choose.Tables(trials, probs, acc)
        res = {}
        for pl in sorted(set(t["placement"] for t in tables.trials)) + [None]:
            key = pl or "all"
            idx = tables.select(pl)
            k = sim[pl]["knobs"] if pl else None
            r = {}
            if k:
                r["knobs"] = k
                r["lodo_knobs"] = tables.score(idx, choose.setting_of(k))
            r["threshold"] = tables.score(idx, "threshold")
            arrays, nf, na, adl_h = tables._grid_arrays(idx)
            best = {}
            for b in BUDGETS:
                top = (-1, None)
                for (sm, su, det, gate), (tp, fa, fat) in arrays.items():
                    if det != "model":
                        continue
                    for g in range(len(choose.GRID)):
                        if fa[g] <= b * adl_h and (tp[g], -fa[g]) > (top[0], top[1][1] if top[1] else 0):
                            top = (int(tp[g]), (f"{sm}/{su}/{choose.GRID[g]}", -int(fa[g])))
                best[b] = (top[0], nf, top[1][0] if top[1] else None, -top[1][1] if top[1] else None)
            r["model_sens_at_fa"] = best
            mx = {i: float(probs[tables.trials[i]["key"]].max()) if len(probs[tables.trials[i]["key"]]) else 0.0 for i in idx}
            r["auc_trial_max"] = auc([mx[i] for i in idx if tables.trials[i]["fall"]],
                                     [mx[i] for i in idx if not tables.trials[i]["fall"]])
            r["adl_h"] = adl_h
            res[key] = r
        out[name] = res
    for key in out[specs[0][0]]:
        print(f"== {ds} {key} (ADL {out[specs[0][0]][key]['adl_h']:.2f} h)")
        th = out[specs[0][0]][key]["threshold"]
        print(f"   threshold detector: {choose.fmt(th)}")
        for name, _ in specs:
            r = out[name][key]
            if "lodo_knobs" in r:
                print(f"   {name:10s} LODO knobs {r['knobs']}: {choose.fmt(r['lodo_knobs'])}")
        for name, _ in specs:
            r = out[name][key]
            s = "  ".join(f"<={b}/h: {tp}/{nf}={tp / nf:.3f} [{st}, {fa} FA]" for b, (tp, nf, st, fa) in r["model_sens_at_fa"].items())
            print(f"   {name:10s} model alone, best sens at FA/h  {s}  | trial AUC {r['auc_trial_max']:.4f}")
    with open(os.path.join(root, f"compare_{ds}.json"), "w") as f:
        json.dump({n: {k: {a: b for a, b in v.items()} for k, v in r.items()} for n, r in out.items()}, f, default=str, indent=1)


if __name__ == "__main__":
    main()
