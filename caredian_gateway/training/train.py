"""Train the fall model on SisFall at 50 Hz and export models/<name>.onnx + .meta.json.

One command (from caredian_gateway/): npm run train   (= /usr/bin/python3 training/train.py)
Stage 1 cross-validates by subject inside the training subjects (cv.py: 3 folds, one model per
fold and seed) and picks the decision knobs (threshold, smoothing K, sustain K) on the ensemble's
out-of-fold probabilities by a fixed rule (choose.py). Stage 2 trains one member per seed
on every training subject and exports their mean as one ONNX graph. The jobs run side by side, one
thread each; finished ones are kept in --work and not run again. The held-out subjects are never read.
"""
import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import choose  # noqa: E402
import cv  # noqa: E402
import sisfall  # noqa: E402
from model import Ensemble, FallNet  # noqa: E402
from recipe import HELD_OUT, HOP, POS_FROM, POS_TO, RATE, WINDOW, export  # noqa: E402


def run_jobs(jobs, workers, log):
    """Run cv.py jobs side by side; a job whose output file exists is not run again."""
    pending = [(args, out) for args, out in jobs if not os.path.exists(out)]
    log(f"  {len(jobs) - len(pending)} of {len(jobs)} jobs already done, {len(pending)} to run, {workers} at a time")
    running = []
    here = os.path.dirname(os.path.abspath(__file__))
    while pending or running:
        while pending and len(running) < workers:
            args, out = pending.pop(0)
            logf = open(out + ".log", "w")
            running.append((subprocess.Popen([sys.executable, os.path.join(here, "cv.py"), *args],
                                             stdout=logf, stderr=subprocess.STDOUT), out, logf))
        for job in list(running):
            proc, out, logf = job
            if proc.poll() is None:
                continue
            logf.close()
            running.remove(job)
            if proc.returncode != 0 or not os.path.exists(out):
                sys.exit(f"job for {out} failed; see {out}.log")
            log(f"  done: {os.path.basename(out)}")
        time.sleep(1)


def check_work_recipe(work, recipe):
    """Finished jobs are reused by file name, so a work folder must only ever hold one recipe's jobs."""
    stamp = os.path.join(work, "recipe.json")
    if os.path.exists(stamp):
        with open(stamp) as f:
            old = json.load(f)
        if old != recipe:
            sys.exit(f"{work} holds jobs trained with {' '.join(old)}, not {' '.join(recipe)}: "
                     "delete it or pass another --work")
    elif any(n.endswith((".npz", ".pt")) for n in os.listdir(work)):
        sys.exit(f"{work} holds jobs of an unknown recipe: delete it or pass another --work")
    else:
        with open(stamp, "w") as f:
            json.dump(recipe, f)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=sisfall.DEFAULT_ROOT)
    p.add_argument("--out", default=os.path.join(here, "..", "models"))
    p.add_argument("--work", default=os.path.join(here, ".work"), help="cross-validation outputs and members")
    p.add_argument("--name", default="fallnet")
    p.add_argument("--version", default="1.2.0")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seeds", default="7,8,9", help="one ensemble member per seed")
    p.add_argument("--dyn-gain", default="0.6,2.0", help="LO,HI: motion of each training window scaled by LO..HI")
    p.add_argument("--workers", type=int, default=max(1, os.cpu_count() or 1))
    args = p.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"no dataset at {args.data}: put SisFall at 50 Hz there (see models/MODEL_CARD.md)")
    log = lambda s: print(s, flush=True)  # noqa: E731
    seeds = [int(s) for s in args.seeds.split(",")]
    train_subjects = [s for s in sisfall.subject_folders(args.data) if s not in HELD_OUT]
    fold_of = cv.folds(train_subjects)
    log(f"training subjects: {' '.join(train_subjects)}; held out: {' '.join(HELD_OUT)}")
    os.makedirs(args.work, exist_ok=True)
    recipe = ["--epochs", str(args.epochs), "--dyn-gain", args.dyn_gain]
    check_work_recipe(args.work, recipe)
    common = ["--data", args.data, *recipe, "--out", args.work]

    log(f"stage 1: {cv.FOLDS}-fold cross-validation by subject, {len(seeds)} seeds, then the decision knobs")
    run_jobs([(["--fold", str(f), "--seed", str(s), *common], os.path.join(args.work, f"oof_f{f}_s{s}.npz"))
              for s in seeds for f in range(cv.FOLDS)], args.workers, log)
    per_seed = choose.load(args.work, seeds)
    for s in seeds:
        choose.show(f"  single model, seed {s}", choose.choose(per_seed[s]))
    knobs = choose.choose(choose.ensemble(per_seed, seeds))
    choose.show(f"  ensemble of {len(seeds)} (shipped)", knobs)

    log("stage 2: train every member on every training subject")
    run_jobs([(["--fold", "all", "--seed", str(s), *common], os.path.join(args.work, f"member_s{s}.pt"))
              for s in seeds], args.workers, log)
    members = []
    for s in seeds:
        m = FallNet(RATE, WINDOW)
        m.load_state_dict(torch.load(os.path.join(args.work, f"member_s{s}.pt")))
        members.append(m.eval())
    model = Ensemble(members).eval()
    os.makedirs(args.out, exist_ok=True)
    onnx_path = os.path.join(args.out, f"{args.name}.onnx")
    export(model, onnx_path)
    with open(onnx_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    params = sum(p.numel() for p in model.parameters())
    cv_figures = {"folds": {str(f): sorted(s for s in train_subjects if fold_of[s] == f) for f in range(cv.FOLDS)},
                  "seeds": seeds, "rule": choose.RULE,
                  "sensitivity": round(knobs["sens"], 4), "on_time": round(knobs["on_time"], 4), "specificity": round(knobs["spec"], 4),
                  "false_alarms": knobs["fa"], "false_alarms_per_hour": round(knobs["fa_h"], 3),
                  "p95_delay_sec": round(knobs["p95"], 2), "best_threshold_range": list(knobs["range"])}
    meta = {
        "name": args.name,
        "version": args.version,
        "created": datetime.date.today().isoformat(),
        "file": f"{args.name}.onnx",
        "sha256": sha,
        "parameters": params,
        "input": {"name": "imu", "layout": "[batch, window, channels]", "dtype": "float32"},
        "output": {"name": "prob", "meaning": "probability that a fall impact happened "
                   f"{POS_FROM}-{POS_TO} s before the window's last sample (mean of {len(seeds)} members)"},
        "sample_rate_hz": RATE,
        "window_samples": WINDOW,
        "hop_samples": HOP,
        "channels": [{"name": "ax", "source": "acc", "axis": 0, "unit": "g"},
                     {"name": "ay", "source": "acc", "axis": 1, "unit": "g"},
                     {"name": "az", "source": "acc", "axis": 2, "unit": "g"}],
        "requires_gyro": False,
        "normalisation": {"mean": [0, 0, 0], "std": [1, 1, 1],
                          "note": "raw device-frame samples; orientation-invariant features are computed inside the graph"},
        "decision": {"threshold": knobs["threshold"], "smooth_k": knobs["smooth_k"], "sustain_k": knobs["sustain_k"]},
        "training": {
            "data": "SisFall (Sucerquia et al., Sensors 2017) reduced to 50 Hz, ../shared/datasets/sisfall50",
            "subjects": train_subjects, "held_out_subjects": HELD_OUT,
            "recipe": f"training/train.py --epochs {args.epochs} --seeds {args.seeds} --dyn-gain {args.dyn_gain}",
            "augmentation": "any 3-D rotation; motion (samples minus their 0.5 s moving average) scaled by "
                            f"{args.dyn_gain.replace(',', '-')}x, log-uniform; gain +-15 %; noise 0.01 g",
            "cross_validation": cv_figures,
        },
        "metrics": {},
    }
    meta_path = os.path.join(args.out, f"{args.name}.meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            old = json.load(f)
        if old.get("sha256") == sha and old.get("decision") == meta["decision"]:
            # the same model and knobs again: keep what `npm run eval -- --write-metrics` recorded
            meta["metrics"] = old.get("metrics", {})
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, {params} parameters) and {meta_path}")


if __name__ == "__main__":
    main()
