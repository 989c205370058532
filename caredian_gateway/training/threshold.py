"""The reference threshold detector of the model contract, identical to the runtime's
(src/inference/threshold-detector.ts, THRESHOLD_DEFINITION: a change there is a change here):

- |a| (g, gravity included) at sample i above 2.5 g is an impact candidate;
- pre  = mean acceleration vector over samples [i - 3.0 s, i - 1.0 s), clipped to what exists, at
  least 0.5 s of samples, else no decision (the runtime's calibration of the contract's first
  [i - 1.5 s, i - 0.5 s): the second before the impact already holds the falling motion);
- post = mean acceleration vector over samples [i + 1.5 s, i + 3.0 s] (both ends included);
- angle(pre, post) > 60 degrees -> a fall, decided when sample i + 3.0 s has arrived;
- after a decision, candidates within the next 3 s are ignored (the runtime's cooldown does the rest).
"""
import numpy as np

RATE = 50
IMPACT_G = 2.5
ANGLE_DEG = 60.0
PRE_FROM, PRE_TO, PRE_MIN = int(3.0 * RATE), int(1.0 * RATE), int(0.5 * RATE)
POST_FROM, POST_TO = int(1.5 * RATE), int(3.0 * RATE)
IGNORE_AFTER = int(3.0 * RATE)
COS_MAX = float(np.cos(np.radians(ANGLE_DEG)))


def decisions(acc):
    """Sample indices at which the detector decides a fall (the sample i + 3 s of each impact)."""
    acc = np.asarray(acc, dtype=np.float64)
    n = len(acc)
    mag2 = (acc * acc).sum(axis=1)
    cand = np.flatnonzero(mag2 > IMPACT_G * IMPACT_G)
    if not len(cand):
        return []
    c = np.concatenate([np.zeros((1, 3)), np.cumsum(acc, axis=0)])  # c[k] = sum of samples [0, k)
    out, ignore_to = [], -1
    for i in cand.tolist():
        if i <= ignore_to:
            continue
        if i + POST_TO >= n:
            break  # the deciding sample has not arrived
        lo, hi = max(0, i - PRE_FROM), i - PRE_TO
        if hi - lo < PRE_MIN:
            continue
        pre = (c[hi] - c[lo]) / (hi - lo)
        post = (c[i + POST_TO + 1] - c[i + POST_FROM]) / (POST_TO + 1 - POST_FROM)
        cos = pre @ post / (np.linalg.norm(pre) * np.linalg.norm(post) + 1e-12)
        if cos < COS_MAX:
            d = i + POST_TO
            out.append(d)
            ignore_to = d + IGNORE_AFTER
    return out
