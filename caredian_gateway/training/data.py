"""Reading ../shared/datasets: every dataset, placement and trial as one array, cached in .npy.

Layout: <dataset>/<placement>/<subject>/<CODE>_<subject>_<trial>.csv.gz, except sisfall50, which is
<subject>/... and waist only. Columns ax,ay,az[,gx,gy,gz]: 50 Hz, g with gravity, device frame.
Only the accelerometer is kept. The placement comes from the folder (wrist_meta, a second wrist
sensor, is a wrist). SisFall's held-out subjects (recipe.HELD_OUT) are never read.
"""
import gzip
import hashlib
import json
import os
import re

import numpy as np

DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "datasets")
DATASETS = ["sisfall50", "fallalld50", "smartfallmm50", "umafall50"]
PLACEMENT_OF = {"waist": "waist", "hip": "hip", "wrist": "wrist", "wrist_meta": "wrist", "pocket": "pocket",
                "neck": "neck", "chest": "chest", "ankle": "ankle"}
NAME = re.compile(r"^([DF]\d+)_([A-Z]+\d+)_([A-Za-z0-9]+)\.csv\.gz$")
FORMAT = 1  # bump when the cache's content changes


def impact_index(acc):
    """The impact of a fall trial: the peak of the acceleration magnitude (as the TypeScript eval finds it)."""
    return int(np.argmax((acc.astype(np.float64) ** 2).sum(axis=1)))


def _files(root, held_out):
    """(dataset, folder, subject, path) of every trial file, sorted."""
    out = []
    for ds in DATASETS:
        base = os.path.join(root, ds)
        if not os.path.isdir(base):
            raise SystemExit(f"no dataset folder {base}")
        groups = [("waist", base)] if ds == "sisfall50" else \
            [(p, os.path.join(base, p)) for p in sorted(os.listdir(base)) if os.path.isdir(os.path.join(base, p))]
        for folder, path in groups:
            if folder not in PLACEMENT_OF:
                raise SystemExit(f"unknown placement folder {path}")
            for subject in sorted(os.listdir(path)):
                sp = os.path.join(path, subject)
                if not os.path.isdir(sp) or (ds == "sisfall50" and subject in held_out):
                    continue
                for name in sorted(os.listdir(sp)):
                    if NAME.match(name):
                        out.append((ds, folder, subject, os.path.join(sp, name)))
    return out


def _read(path):
    with gzip.open(path, "rb") as f:
        text = f.read().decode()
    header, _, body = text.partition("\n")
    cols = header.strip().split(",")
    if cols[:3] != ["ax", "ay", "az"]:
        raise SystemExit(f"{path}: unexpected header {header!r}")
    values = np.array(body.replace(",", " ").split(), dtype=np.float32)
    return values.reshape(-1, len(cols))[:, :3].copy()


def load(root, cache_dir, held_out):
    """All trials: (acc [N, 3] float32 of every trial end to end, list of trial dicts with start and n)."""
    files = _files(root, held_out)
    h = hashlib.sha256(json.dumps([FORMAT, sorted(held_out)]).encode())
    for _, _, _, path in files:
        h.update(f"{os.path.relpath(path, root)}:{os.path.getsize(path)}\n".encode())
    fingerprint = h.hexdigest()
    acc_path, index_path = os.path.join(cache_dir, "acc.npy"), os.path.join(cache_dir, "trials.json")
    if os.path.exists(index_path) and os.path.exists(acc_path):
        with open(index_path) as f:
            index = json.load(f)
        if index["fingerprint"] == fingerprint:
            return np.load(acc_path, mmap_mode="r"), index["trials"]
    trials, parts, start = [], [], 0
    for ds, folder, subject, path in files:
        code, _, trial = NAME.match(os.path.basename(path)).groups()
        acc = _read(path)
        fall = code.startswith("F")
        trials.append({"key": f"{ds}/{folder}/{code}_{subject}_{trial}", "dataset": ds, "folder": folder,
                       "placement": PLACEMENT_OF[folder], "subject": subject, "code": code, "trial": trial,
                       "fall": fall, "start": start, "n": len(acc), "impact": impact_index(acc) if fall else -1})
        parts.append(acc)
        start += len(acc)
    os.makedirs(cache_dir, exist_ok=True)
    acc = np.concatenate(parts)
    np.save(acc_path + ".part.npy", acc)
    os.replace(acc_path + ".part.npy", acc_path)
    with open(index_path, "w") as f:
        json.dump({"fingerprint": fingerprint, "trials": trials}, f)
    return np.load(acc_path, mmap_mode="r"), trials


def trial_acc(acc, t):
    return np.asarray(acc[t["start"]:t["start"] + t["n"]])


if __name__ == "__main__":
    import sys
    import time
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from recipe import HELD_OUT
    t0 = time.time()
    a, ts = load(DEFAULT_ROOT, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".work", "data"), HELD_OUT)
    print(f"{len(ts)} trials, {len(a)} samples ({len(a) / 50 / 3600:.1f} h) in {time.time() - t0:.0f} s")
    from collections import Counter
    c = Counter((t["dataset"], t["folder"], t["fall"]) for t in ts)
    for k in sorted(c):
        print(k, c[k])
