"""Subject-wise cross-validation inside the training subjects: out-of-fold window probabilities.

  /usr/bin/python3 training/cv.py --fold F --seed S --out DIR
trains on the training subjects outside fold F (of 3, assigned by rule: every third adult and every
third elderly subject in sorted order) and writes DIR/oof_f<F>_s<S>.npz with the probability of every
window (0.5 s hop) of every trial of fold F. choose.py reads these files to compare recipes and pick
the decision knobs. With --fold all it trains on every training subject and writes DIR/member_s<S>.pt
(one member of the shipped ensemble). One thread a job, so results do not depend on the machine's
core count; train.py runs the jobs side by side. The held-out subjects are never read.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sisfall  # noqa: E402
import recipe as T  # noqa: E402

FOLDS = 3


def folds(subjects):
    """Subject -> fold, by rule, adults and elderly spread evenly."""
    out = {}
    for group in ("SA", "SE"):
        for i, s in enumerate(sorted(x for x in subjects if x.startswith(group))):
            out[s] = i % FOLDS
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=sisfall.DEFAULT_ROOT)
    p.add_argument("--fold", required=True, help="0, 1, 2 or all")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--oriented", action="store_true",
                   help="experiment: also feed device-frame samples, rotations of up to 20 degrees only")
    p.add_argument("--dyn-gain", default=None, help="LO,HI: scale the motion of each training window by LO..HI")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dyn = tuple(float(v) for v in args.dyn_gain.split(",")) if args.dyn_gain else None
    subjects = [s for s in sisfall.subject_folders(args.data) if s not in T.HELD_OUT]
    fold_of = folds(subjects)
    trials = sisfall.load(args.data, set(subjects))
    log = lambda s: print(f"[f{args.fold} s{args.seed}] {s}", flush=True)  # noqa: E731
    if args.fold == "all":
        model = T.train(trials, args.epochs, args.seed, lambda s: print(f"[all s{args.seed}] {s}", flush=True),
                        args.oriented, dyn)
        os.makedirs(args.out, exist_ok=True)
        path = os.path.join(args.out, f"member_s{args.seed}.pt")
        torch.save(model.state_dict(), path + ".part")
        os.replace(path + ".part", path)  # train.py counts a job done when its file exists
        return
    args.fold = int(args.fold)
    val = [s for s in subjects if fold_of[s] == args.fold]
    log(f"validation subjects {' '.join(val)}")
    model = T.train([t for t in trials if fold_of[t["subject"]] != args.fold], args.epochs, args.seed, log, args.oriented, dyn)
    out = {}
    for t in trials:
        if fold_of[t["subject"]] == args.fold:
            probs, _ = T.trial_probs(model, t)
            key = f"{t['code']}_{t['subject']}_{t['trial']}"
            out[key] = probs.astype(np.float32)
            out["impact:" + key] = np.array([sisfall.impact_index(t["acc"]) if t["fall"] else -1])
            out["len:" + key] = np.array([len(t["acc"])])
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"oof_f{args.fold}_s{args.seed}.npz")
    with open(path + ".part", "wb") as f:
        np.savez_compressed(f, **out)
    os.replace(path + ".part", path)
    log("done")


if __name__ == "__main__":
    main()
