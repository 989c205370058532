"""One training job: leave one dataset out, or the final model.

  /usr/bin/python3 training/cv.py --without DATASET --seed S --out DIR
trains on every trial of the other datasets (SisFall's held-out subjects are never read) and writes
DIR/member_without-<DATASET>_s<S>.pt and DIR/oof_without-<DATASET>_s<S>.npz: the probability of
every window the runtime would score (ends at 200, 225, ... samples) of every trial of DATASET,
which that network never saw. choose.py reads these to pick the decision knobs per placement.
With --without none it trains on everything and writes DIR/member_final_s<S>.pt.
One thread a job, so results do not depend on the machine's core count; train.py runs the jobs
side by side; finished jobs are kept.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import recipe as T  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=data.DEFAULT_ROOT)
    p.add_argument("--without", required=True, help=f"one of {', '.join(data.DATASETS)}, or none")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--per-epoch", type=int, default=150_000, help="windows drawn per epoch")
    p.add_argument("--dyn-gain", default="0.6,2.0")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    if args.without != "none" and args.without not in data.DATASETS:
        sys.exit(f"--without: unknown dataset {args.without}")
    torch.set_num_threads(args.threads)
    tag = "final" if args.without == "none" else f"without-{args.without}"
    log = lambda s: print(f"[{tag} s{args.seed}] {s}", flush=True)  # noqa: E731
    acc, trials = data.load(args.data, os.path.join(args.out, "data"), T.HELD_OUT)
    train = [t for t in trials if t["dataset"] != args.without]
    log(f"training on {len(train)} trials of {', '.join(sorted(set(t['dataset'] for t in train)))}")
    t0 = time.time()
    model = T.train(acc, train, args.epochs, args.seed, log, tuple(float(v) for v in args.dyn_gain.split(",")),
                    per_epoch=args.per_epoch)
    log(f"trained in {time.time() - t0:.0f} s")
    os.makedirs(args.out, exist_ok=True)
    if args.without != "none":
        out = {}
        for t in trials:
            if t["dataset"] == args.without:
                out[t["key"]] = T.trial_probs(model, data.trial_acc(acc, t))
        path = os.path.join(args.out, f"oof_{tag}_s{args.seed}.npz")
        with open(path + ".part", "wb") as f:
            np.savez_compressed(f, **out)
        os.replace(path + ".part", path)
    path = os.path.join(args.out, f"member_{tag}_s{args.seed}.pt")
    torch.save(model.state_dict(), path + ".part")
    os.replace(path + ".part", path)  # train.py counts a job done when its member file exists
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
