"""Reading the SisFall-at-50-Hz layout: <subject>/<code>_<subject>_<trial>.csv.gz, columns ax,ay,az,gx,gy,gz."""
import gzip
import os
import re

import numpy as np

# Where the dataset sits beside a clone of the repository (see models/MODEL_CARD.md).
DEFAULT_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "datasets", "sisfall50")
NAME = re.compile(r"^([DF]\d\d)_(S[AE]\d\d)_(R\d\d)\.csv\.gz$")


def impact_index(acc):
    """The impact of a fall trial: the peak of the acceleration magnitude (the same rule the TypeScript eval uses)."""
    return int(np.argmax(np.sqrt((acc * acc).sum(axis=1))))


def subject_folders(root):
    """The subject folders of the dataset, sorted."""
    return sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))


def load(root, subjects=None):
    trials = []
    for subject in subject_folders(root):
        if subjects is not None and subject not in subjects:
            continue
        folder = os.path.join(root, subject)
        for name in sorted(os.listdir(folder)):
            m = NAME.match(name)
            if not m:
                continue
            with gzip.open(os.path.join(folder, name), "rt") as f:
                data = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)
            code = m.group(1)
            trials.append({"subject": subject, "code": code, "trial": m.group(3), "fall": code.startswith("F"),
                           "acc": data[:, 0:3].copy(), "gyro": data[:, 3:6].copy()})
    return trials
