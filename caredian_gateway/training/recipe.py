"""The training recipe shared by cv.py (leave-one-dataset-out jobs and the final model) and train.py."""
import time

import numpy as np
import torch
from torch import nn

from model import FallNet

RATE = 50
WINDOW = 200  # 4 s
HOP = 25  # 0.5 s: the runtime's hop
# Held out for the model card's figures (chosen by rule before any training: every fifth subject).
HELD_OUT = ["SA05", "SA10", "SA15", "SE05", "SE10"]
# A window is a positive when the impact lies this far before its last sample (seconds).
POS_FROM, POS_TO = 0.2, 1.8
# Windows that end shortly before the impact (the descent) or long after it are left out of training.
NEG_BEFORE = -0.6


def windows(trials, hop_pos=5, hop_neg=25):
    """Training windows of data.load()'s trials: end indices into the concatenated array (exclusive),
    labels (1, 0) and the index of the trial each comes from. Window ends sit on the runtime's grid
    (200, 225, ... samples into a trial) for negatives; positives every hop_pos samples."""
    ends, labels, owner = [], [], []
    for k, t in enumerate(trials):
        n, impact = t["n"], t["impact"]
        e = np.arange(WINDOW, n + 1, hop_pos)
        if impact < 0:
            e = e[e % hop_neg == 0]
            lab = np.zeros(len(e), dtype=np.float32)
        else:
            d = (e - 1 - impact) / RATE
            pos = (d >= POS_FROM) & (d <= POS_TO)
            neg = (d < NEG_BEFORE) & (e % hop_neg == 0)
            e = np.concatenate([e[pos], e[neg]])
            lab = np.concatenate([np.ones(int(pos.sum()), np.float32), np.zeros(int(neg.sum()), np.float32)])
        ends.append(t["start"] + e)
        labels.append(lab)
        owner.append(np.full(len(e), k, dtype=np.int64))
    return np.concatenate(ends), np.concatenate(labels), np.concatenate(owner)


def balance_weights(trials, labels, owner, pos_share):
    """Sampling weights: every dataset the same share of each epoch, and within it positives pos_share."""
    ds = np.array([t["dataset"] for t in trials])[owner]
    w = np.zeros(len(labels), dtype=np.float64)
    names = sorted(set(ds.tolist()))
    for name in names:
        for lab, share in ((1.0, pos_share), (0.0, 1.0 - pos_share)):
            m = (ds == name) & (labels == lab)
            if m.any():
                w[m] = share / len(names) / m.sum()
    return w / w.sum()


def random_rotations(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen))
    return q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)


def dynamic_gain(x, gen, lo, hi):
    """Scale each window's motion (the samples minus their 0.5 s moving average) by a factor drawn
    log-uniformly from [lo, hi]; gravity and posture stay. Heel strikes and impacts differ in size
    between people, shoes and where the device sits (a pocket sees more than a belt)."""
    k = RATE // 2 | 1
    lp = nn.functional.avg_pool1d(x.transpose(1, 2), k, stride=1, padding=k // 2,
                                  count_include_pad=False).transpose(1, 2)
    s = torch.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * torch.rand(x.shape[0], 1, 1, generator=gen))
    return lp + s * (x - lp)


def clip_axes(x, gen, p, levels):
    """Some sensors clip each axis at +-2 g or +-4 g (MetaMotion, phones, a chest tag): clip a share p of windows."""
    b = x.shape[0]
    pick = torch.rand(b, generator=gen) < p
    lv = torch.tensor(levels, dtype=x.dtype)[torch.randint(len(levels), (b,), generator=gen)].view(b, 1, 1)
    return torch.where(pick.view(b, 1, 1), torch.maximum(torch.minimum(x, lv), -lv), x)


def soften(x, gen, p):
    """Sensors sampled at 20-25 Hz and resampled to 50 Hz have softer impacts: a 3-sample mean on a share p."""
    b = x.shape[0]
    pick = torch.rand(b, generator=gen) < p
    lp = nn.functional.avg_pool1d(x.transpose(1, 2), 3, stride=1, padding=1, count_include_pad=False).transpose(1, 2)
    return torch.where(pick.view(b, 1, 1), lp, x)


def train(acc_np, trials, epochs, seed, log, dyn_gain=(0.6, 2.0), per_epoch=150_000, pos_share=0.15,
          clip_p=0.2, soft_p=0.2, width=24):
    """One network on these trials (data.load() dicts over the array acc_np), per-dataset balanced."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    acc = torch.from_numpy(np.array(acc_np, dtype=np.float32))
    ends, labels, owner = windows(trials)
    w = balance_weights(trials, labels, owner, pos_share)
    log(f"  {len(ends)} windows, {int(labels.sum())} positive; {per_epoch} drawn per epoch "
        f"(each dataset 1/{len(set(t['dataset'] for t in trials))}, positives {pos_share})")
    starts_t, labels_t, w_t = torch.from_numpy(ends - WINDOW), torch.from_numpy(labels), torch.from_numpy(w)
    ar = torch.arange(WINDOW)
    model = FallNet(RATE, WINDOW, width=width)
    steps = epochs * ((per_epoch + 511) // 512)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    lossf = nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        model.train()
        draw = torch.multinomial(w_t, per_epoch, replacement=True, generator=gen)
        total, t0 = 0.0, time.time()
        for i in range(0, per_epoch, 512):
            idx = draw[i:i + 512]
            x = acc[starts_t[idx].unsqueeze(1) + ar]  # [B, W, 3]
            b = x.shape[0]
            # Augmentation: motion scaling, any orientation, axis clipping and softening in that
            # frame, +-15 % gain, a little sensor noise.
            if dyn_gain:
                x = dynamic_gain(x, gen, *dyn_gain)
            x = torch.bmm(x, random_rotations(b, gen))
            x = clip_axes(x, gen, clip_p, (2.0, 4.0))
            x = soften(x, gen, soft_p)
            x = x * (0.85 + 0.3 * torch.rand(b, 1, 1, generator=gen))
            x = x + 0.01 * torch.randn(x.shape, generator=gen)
            loss = lossf(model.logits(x), labels_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * b
        log(f"  epoch {epoch + 1}/{epochs} loss {total / per_epoch:.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model


@torch.no_grad()
def trial_probs(model, a):
    """Probabilities of the windows the runtime scores: ends at 200, 225, ... samples."""
    a = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    ends = list(range(WINDOW, len(a) + 1, HOP))
    if not ends:
        return np.zeros(0, dtype=np.float32)
    x = torch.stack([a[e - WINDOW:e] for e in ends])
    return model(x).numpy().astype(np.float32)


def export(model, path):
    dummy = torch.zeros(1, WINDOW, 3)
    torch.onnx.export(model, dummy, path, input_names=["imu"], output_names=["prob"],
                      dynamic_axes={"imu": {0: "batch"}, "prob": {0: "batch"}}, opset_version=13)
