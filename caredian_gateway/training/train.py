"""Train the fall models on every dataset in ../shared/datasets and export them.

One command (from caredian_gateway/): npm run train   (= /usr/bin/python3 training/train.py)
Jobs (cv.py), one thread each, side by side, finished ones kept in --work: one network per
held-out dataset (leave-one-dataset-out, LODO), which scores every window of the dataset it never
saw, and the final network on everything. The decision knobs and the detector per placement come
from those LODO probabilities by a fixed rule (choose.py). Writes models/<name>.onnx + .meta.json
(the final network, knobs chosen on all LODO probabilities) and models/lodo/<name>-without-<dataset>
.onnx + .meta.json (knobs chosen without that dataset's trials), and --work/report.json with every
figure. SisFall's held-out subjects (recipe.HELD_OUT) are never read.
"""
import argparse
import datetime
import hashlib
import json
import shutil
import os
import subprocess
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import choose  # noqa: E402
import data  # noqa: E402
import threshold  # noqa: E402
from model import FallNet  # noqa: E402
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


def summary(r):
    """A score dict (choose.Tables.score) as the metadata's figures."""
    out = {"sensitivity": round(r["sens"], 4), "detected": r["tp"], "fall_trials": r["nf"],
           "specificity": round(r["spec"], 4), "adl_trials": r["adl"], "adl_hours": round(r["adl_h"], 3),
           "false_alarms": r["fa"], "false_alarms_per_hour": round(r["fa_h"], 3)}
    if r["tp"]:
        out["on_time_2s_by_chunk"] = round(r["on_time"], 4)
        out["delay_sec"] = {"median": round(float(np.median(r["delays"])), 2),
                            "p95": round(float(np.percentile(r["delays"], 95)), 2), "max": round(max(r["delays"]), 2)}
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in out.items()}


def combine(rs):
    """Add up score dicts of disjoint trial sets."""
    tp, nf, fa, na, adl_h = (sum(r[k] for r in rs) for k in ("tp", "nf", "fa", "adl", "adl_h"))
    fat = sum(round((1 - r["spec"]) * r["adl"]) for r in rs if r["adl"])
    on = sum(r["on_time"] * r["nf"] for r in rs if r["nf"] and r["tp"])
    delays = [d for r in rs for d in r["delays"]]
    return {"sens": tp / nf if nf else float("nan"), "tp": tp, "nf": nf, "spec": 1 - fat / na if na else float("nan"),
            "adl": na, "fa": fa, "fa_h": fa / adl_h if adl_h else float("nan"), "adl_h": adl_h,
            "on_time": on / nf if nf else float("nan"), "delays": delays,
            "median": float(np.median(delays)) if delays else float("nan"),
            "p95": float(np.percentile(delays, 95)) if delays else float("nan")}


def choose_all(tables, placements, exclude=None):
    """The rule's knobs for every placement with data (outside `exclude`), unknown, and the legacy decision."""
    out = {}
    for pl in placements:
        c = tables.choose(tables.select(pl, exclude=exclude), pl)
        if c is not None:
            out[pl] = c
    out["unknown"] = tables.choose(tables.select(None, exclude=exclude), "unknown")
    legacy = tables.choose(tables.select(None, exclude=exclude), "unknown", model_only=True)
    return out, legacy


# Waist and hip use fallnet 1.2.0's network (SisFall's waist unit, trained by the 1.2.0 recipe on
# the same 19 SisFall subjects): measured with `npm run eval`, it misses fewer falls than this
# recipe's network at the waist on held-out SisFall subjects and on the other waist and hip devices,
# which it never saw. Its knobs per placement come from the same rule (choose.Tables.choose) on its
# window probabilities (training/window_probs.mjs) on the waist and hip devices it never saw, i.e.
# every dataset but SisFall (and, for a LODO model, not that model's held-out dataset either). Not
# used by a model trained without SisFall.
WAIST_NET = "fallnet-waist.onnx"
WAIST_PLACEMENTS = ("waist", "hip")


def waist_knobs(models_dir, work, trials, acc, log):
    """{excluded dataset or None: {placement: the rule's choice for 1.2.0's network}}."""
    out = os.path.join(work, "probs_fallnet-waist.json")
    net = os.path.join(models_dir, WAIST_NET)
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(net):
        here = os.path.dirname(os.path.abspath(__file__))
        subprocess.run(["node", os.path.join(here, "window_probs.mjs"), net, work, out + ".part", ",".join(WAIST_PLACEMENTS)], check=True)
        os.replace(out + ".part", out)
    with open(out) as f:
        probs = {k: np.asarray(v, dtype=np.float32) for k, v in json.load(f).items()}
    unseen = [t for t in trials if t["placement"] in WAIST_PLACEMENTS and t["dataset"] != "sisfall50"]
    tables = choose.Tables(unseen, probs, acc)
    by_exclude = {}
    for exclude in [None] + list(data.DATASETS):
        chosen = {}
        for pl in WAIST_PLACEMENTS:
            idx = tables.select(pl, exclude=exclude)
            c = tables.choose(idx, pl) if idx else None
            chosen[pl] = c
            if exclude is None and c is not None:
                log(f"  {pl} ({WAIST_NET}): {choose.knobs_json(c)} (tier {c['tier']}): {choose.fmt(c)}")
                log(f"     threshold detector, same trials: {choose.fmt(c['threshold_detector'])}")
                for ds in sorted(set(tables.trials[i]["dataset"] for i in idx)):
                    di = tables.select(pl, dataset=ds)
                    log(f"     {ds:14s} {choose.fmt(tables.score(di, choose.setting_of(c)))} | threshold: {choose.fmt(tables.score(di, 'threshold'))}")
        if chosen["hip"] is None:  # no hip data left: the waist's choice, as a placement without data takes unknown's
            chosen["hip"] = chosen["waist"]
        by_exclude[exclude] = chosen
    return by_exclude


def waist_network(models_dir, folder, meta, held_out_datasets, chosen):
    if "sisfall50" in held_out_datasets:
        return
    src = os.path.join(models_dir, WAIST_NET)
    if not os.path.exists(src):
        sys.exit(f"{src} is missing: it is fallnet 1.2.0's network (git history of models/fallnet.onnx before 2.0.0)")
    dst = os.path.join(folder, WAIST_NET)
    if os.path.abspath(dst) != os.path.abspath(src):
        shutil.copyfile(src, dst)
    with open(dst, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    for pl in WAIST_PLACEMENTS:
        c = chosen[pl]
        meta["placements"][pl] = {**choose.knobs_json(c), "file": WAIST_NET, "sha256": sha}
        meta["training"]["placements"].setdefault(pl, {})["network"] = (
            f"{WAIST_NET}: fallnet 1.2.0 (SisFall waist, 19 subjects, 1.2.0 recipe); knobs by the rule on the devices it never saw "
            f"(tier {c['tier']})")
        meta["training"]["placements"][pl]["knobs_on_unseen_devices"] = {
            "network": summary(c), "threshold_detector": summary(c["threshold_detector"])}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser()
    p.add_argument("--data", default=data.DEFAULT_ROOT)
    p.add_argument("--out", default=os.path.join(here, "..", "models"))
    p.add_argument("--work", default=os.path.join(here, ".work"), help="jobs' outputs (LODO probabilities, networks)")
    p.add_argument("--name", default="fallnet")
    p.add_argument("--version", default="2.0.0")
    p.add_argument("--epochs", type=int, default=14)
    p.add_argument("--per-epoch", type=int, default=100_000, help="windows drawn per epoch")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--dyn-gain", default="0.6,2.0", help="LO,HI: motion of each training window scaled by LO..HI")
    p.add_argument("--workers", type=int, default=min(2, max(1, os.cpu_count() or 1)))
    args = p.parse_args()
    if not os.path.isdir(args.data):
        sys.exit(f"no datasets at {args.data} (see models/MODEL_CARD.md)")
    log = lambda s: print(s, flush=True)  # noqa: E731
    os.makedirs(args.work, exist_ok=True)
    recipe = ["--epochs", str(args.epochs), "--per-epoch", str(args.per_epoch), "--dyn-gain", args.dyn_gain]
    check_work_recipe(args.work, recipe)
    common = ["--data", args.data, "--seed", str(args.seed), *recipe, "--out", args.work]
    t0 = time.time()
    acc, trials = data.load(args.data, os.path.join(args.work, "data"), HELD_OUT)
    log(f"{len(trials)} trials ({len(acc) / RATE / 3600:.1f} h) of {', '.join(data.DATASETS)}; "
        f"SisFall held out: {' '.join(HELD_OUT)} ({time.time() - t0:.0f} s)")

    log(f"jobs: one network without each dataset (LODO), then the final one; seed {args.seed}")
    tags = [f"without-{ds}" for ds in data.DATASETS] + ["final"]
    run_jobs([(["--without", tag.replace("without-", "") if tag != "final" else "none", *common],
               os.path.join(args.work, f"member_{tag}_s{args.seed}.pt")) for tag in tags], args.workers, log)

    log("decision knobs per placement on the LODO probabilities")
    t1 = time.time()
    tables = choose.Tables(trials, choose.load_probs(args.work, args.seed), acc)
    log(f"  simulated {len(tables.trials)} trials ({time.time() - t1:.0f} s)")
    placements = sorted(set(t["placement"] for t in trials))
    final_knobs, final_legacy = choose_all(tables, placements)
    lodo_knobs = {ds: choose_all(tables, placements, exclude=ds) for ds in data.DATASETS}
    log(f"knobs of {WAIST_NET} at the waist and hip, on the devices it never saw")
    waist = waist_knobs(args.out, args.work, trials, acc, log)

    # Honest LODO figures: dataset X scored by the network without X, with the knobs chosen without X.
    report = {"rule": choose.RULE, "placements": {}}
    for pl in placements + ["unknown"]:
        per_ds, per_ds_th = {}, {}
        for ds in data.DATASETS:
            idx = tables.select(None if pl == "unknown" else pl, dataset=ds)
            if not idx:
                continue
            k = lodo_knobs[ds][0].get(pl) or lodo_knobs[ds][0]["unknown"]
            per_ds[ds] = {"knobs": choose.knobs_json(k), "knobs_from": pl if pl in lodo_knobs[ds][0] else "unknown",
                          **{"r": tables.score(idx, choose.setting_of(k))}}
            per_ds_th[ds] = tables.score(idx, "threshold")
            folders = sorted(set(tables.trials[i]["folder"] for i in idx))
            for folder in folders:
                if len(folders) > 1 and pl != "unknown":
                    fi = [i for i in idx if tables.trials[i]["folder"] == folder]
                    per_ds[ds].setdefault("folders", {})[folder] = {
                        "model": summary(tables.score(fi, choose.setting_of(k))),
                        "threshold_detector": summary(tables.score(fi, "threshold"))}
        fk = final_knobs[pl]
        entry = {"knobs": choose.knobs_json(fk), "tier": fk["tier"],
                 "lodo": summary(combine([v["r"] for v in per_ds.values()])),
                 "threshold_detector": summary(combine(list(per_ds_th.values()))),
                 "final_knobs_on_lodo": summary(fk),
                 "datasets": {ds: {"knobs": v["knobs"], "knobs_from": v["knobs_from"], "lodo": summary(v["r"]),
                                   "threshold_detector": summary(per_ds_th[ds]), **({"folders": v["folders"]} if "folders" in v else {})}
                              for ds, v in per_ds.items()}}
        report["placements"][pl] = entry
        log(f"  {pl}: {entry['knobs']} (tier {fk['tier']})")
        log(f"     LODO (knobs chosen without the dataset): {choose.fmt(combine([v['r'] for v in per_ds.values()]))}")
        log(f"     threshold detector, same trials:        {choose.fmt(combine(list(per_ds_th.values())))}")
        for ds, v in per_ds.items():
            log(f"     {ds:14s} {v['knobs']}: {choose.fmt(v['r'])} | threshold: {choose.fmt(per_ds_th[ds])}")
    report["unknown_model_only"] = {"knobs": choose.knobs_json(final_legacy), "tier": final_legacy["tier"],
                                    "final_knobs_on_lodo": summary(final_legacy)}

    def export_one(tag, name, folder, knobs, legacy, held_out_datasets, training_extra):
        m = FallNet(RATE, WINDOW)
        m.load_state_dict(torch.load(os.path.join(args.work, f"member_{tag}_s{args.seed}.pt")))
        m.eval()
        os.makedirs(folder, exist_ok=True)
        onnx_path = os.path.join(folder, f"{name}.onnx")
        export(m, onnx_path)
        with open(onnx_path, "rb") as f:
            sha = hashlib.sha256(f.read()).hexdigest()
        used = [t for t in trials if t["dataset"] not in held_out_datasets]
        per_pl = {}
        for pl in placements:
            rows = [t for t in used if t["placement"] == pl]
            if rows:
                per_pl[pl] = {"trained_on": [
                    {"dataset": ds, "folder": fo, "subjects": sorted(set(t["subject"] for t in rows if (t["dataset"], t["folder"]) == (ds, fo))),
                     "fall_trials": sum(t["fall"] for t in rows if (t["dataset"], t["folder"]) == (ds, fo)),
                     "adl_trials": sum(not t["fall"] for t in rows if (t["dataset"], t["folder"]) == (ds, fo))}
                    for ds, fo in sorted(set((t["dataset"], t["folder"]) for t in rows))]}
            else:
                per_pl[pl] = {"trained_on": []}
            if pl == "waist" and "sisfall50" not in held_out_datasets:
                per_pl[pl]["held_out_subjects"] = {"sisfall50": HELD_OUT}
        meta = {
            "name": name, "version": args.version, "created": datetime.date.today().isoformat(),
            "file": f"{name}.onnx", "sha256": sha, "parameters": sum(x.numel() for x in m.parameters()),
            "input": {"name": "imu", "layout": "[batch, window, channels]", "dtype": "float32"},
            "output": {"name": "prob", "meaning": "probability that a fall impact happened "
                       f"{POS_FROM}-{POS_TO} s before the window's last sample"},
            "sample_rate_hz": RATE, "window_samples": WINDOW, "hop_samples": HOP,
            "channels": [{"name": "ax", "source": "acc", "axis": 0, "unit": "g"},
                         {"name": "ay", "source": "acc", "axis": 1, "unit": "g"},
                         {"name": "az", "source": "acc", "axis": 2, "unit": "g"}],
            "requires_gyro": False,
            "normalisation": {"mean": [0, 0, 0], "std": [1, 1, 1],
                              "note": "raw device-frame samples; orientation-invariant features are computed inside the graph"},
            "decision": {"threshold": legacy["threshold"], "smooth_k": legacy["smooth_k"], "sustain_k": legacy["sustain_k"]},
            "placements": {pl: choose.knobs_json(c) for pl, c in knobs.items()},
            "training": {
                "data": "../shared/datasets: " + ", ".join(d for d in data.DATASETS if d not in held_out_datasets),
                "held_out_datasets": held_out_datasets,
                "held_out_subjects": {"sisfall50": HELD_OUT},
                "recipe": f"training/train.py --epochs {args.epochs} --per-epoch {args.per_epoch} --seed {args.seed} --dyn-gain {args.dyn_gain}",
                "augmentation": f"motion (samples minus their 0.5 s moving average) scaled by {args.dyn_gain.replace(',', '-')}x, "
                                "log-uniform; any 3-D rotation; each axis clipped at +-2 or +-4 g in 20 % of windows; 3-sample "
                                "mean in 20 %; gain +-15 %; noise 0.01 g",
                "balancing": "each epoch draws windows so that every training dataset has the same share, positives 15 % of each",
                "decision_rule": choose.RULE,
                "threshold_detector": "2.5 g impact, pre [-3.0 s, -1.0 s), post [+1.5 s, +3.0 s], angle > 60 deg (training/threshold.py)",
                "placements": per_pl,
                **training_extra,
            },
            "metrics": {},
        }
        waist_network(args.out, folder, meta, held_out_datasets, waist[held_out_datasets[0] if held_out_datasets else None])
        meta_path = os.path.join(folder, f"{name}.meta.json")
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                old = json.load(f)
            if old.get("sha256") == sha and old.get("decision") == meta["decision"] and old.get("placements") == meta["placements"]:
                meta["metrics"] = old.get("metrics", {})  # same model and knobs: keep what `npm run eval` recorded
        with open(meta_path, "w") as f:
            json.dump(meta, f, indent=2, allow_nan=False)
            f.write("\n")
        log(f"wrote {onnx_path} ({os.path.getsize(onnx_path)} bytes, sha256 {sha[:12]}) and {meta_path}")
        return sha

    for ds in data.DATASETS:
        k, legacy = lodo_knobs[ds]
        lodo_fig = {pl: {"knobs": v["datasets"][ds]["knobs"], "knobs_from": v["datasets"][ds]["knobs_from"],
                         "lodo": v["datasets"][ds]["lodo"], "threshold_detector": v["datasets"][ds]["threshold_detector"]}
                    for pl, v in report["placements"].items() if ds in v["datasets"]}
        export_one(f"without-{ds}", f"{args.name}-without-{ds}", os.path.join(args.out, "lodo"), k, legacy, [ds],
                   {"lodo_python_simulation": {"note": "training/choose.py's simulation of the runtime on the held-out "
                                               "dataset, knobs chosen without it; `npm run eval` gives the official figures",
                                               "placements": lodo_fig}})
    per_pl_fig = {pl: {"knobs": v["knobs"], "rule_tier": v["tier"], "lodo": v["lodo"], "threshold_detector": v["threshold_detector"],
                       "final_knobs_on_lodo": v["final_knobs_on_lodo"]} for pl, v in report["placements"].items()}
    export_one("final", args.name, args.out, final_knobs, final_legacy, [],
               {"lodo_python_simulation": {"note": "training/choose.py's simulation of the runtime: 'lodo' = every dataset scored "
                                           "by the network trained without it, with knobs chosen without it; 'final_knobs_on_lodo' = "
                                           "this model's knobs on the same probabilities (chosen on them, so flattering); "
                                           "`npm run eval` gives the official figures", "placements": per_pl_fig}})
    with open(os.path.join(args.work, "report.json"), "w") as f:
        json.dump(report, f, indent=1, default=float, allow_nan=False)
    log(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
