"""The training recipe shared by cv.py (cross-validation and ensemble members) and train.py."""
import time

import numpy as np
import torch
from torch import nn

import sisfall
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


def windows(trials, train_hop_pos=5, train_hop_neg=10):
    """Start indices into the concatenated array, labels (1, 0) and trial ids."""
    starts, labels = [], []
    offset = 0
    for t in trials:
        n = len(t["acc"])
        impact = sisfall.impact_index(t["acc"]) if t["fall"] else None
        for end in range(WINDOW, n + 1, 5):
            if impact is None:
                if end % train_hop_neg:
                    continue
                label = 0
            else:
                d = (end - 1 - impact) / RATE
                if POS_FROM <= d <= POS_TO:
                    if end % train_hop_pos:
                        continue
                    label = 1
                elif d < NEG_BEFORE:
                    if end % train_hop_neg:
                        continue
                    label = 0
                else:
                    continue
            starts.append(offset + end - WINDOW)
            labels.append(label)
        offset += n
    return np.array(starts, dtype=np.int64), np.array(labels, dtype=np.float32)


def random_rotations(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=gen))
    return q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)


def small_rotations(n, gen, max_deg):
    """Rotations by up to max_deg about random axes (Rodrigues): a device worn about as designed."""
    axis = torch.randn(n, 3, generator=gen)
    axis = axis / axis.norm(dim=1, keepdim=True)
    theta = torch.rand(n, generator=gen) * max_deg * np.pi / 180
    k = torch.zeros(n, 3, 3)
    k[:, 0, 1], k[:, 0, 2], k[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    k = k - k.transpose(1, 2)
    s, c = torch.sin(theta).view(n, 1, 1), torch.cos(theta).view(n, 1, 1)
    return torch.eye(3).expand(n, 3, 3) + s * k + (1 - c) * torch.bmm(k, k)


def dynamic_gain(x, gen, lo, hi):
    """Scale each window's motion (the samples minus their 0.5 s moving average) by a factor drawn
    log-uniformly from [lo, hi]; gravity and posture stay. Heel strikes and impacts differ in size
    between people, shoes and where the device sits (a pocket sees more than a belt)."""
    k = RATE // 2 | 1
    lp = nn.functional.avg_pool1d(x.transpose(1, 2), k, stride=1, padding=k // 2,
                                  count_include_pad=False).transpose(1, 2)
    s = torch.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * torch.rand(x.shape[0], 1, 1, generator=gen))
    return lp + s * (x - lp)


def train(trials, epochs, seed, log, oriented=False, dyn_gain=None):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    acc = torch.from_numpy(np.concatenate([t["acc"] for t in trials]))
    starts, labels = windows(trials)
    log(f"  {len(starts)} windows, {int(labels.sum())} positive")
    starts_t, labels_t = torch.from_numpy(starts), torch.from_numpy(labels)
    ar = torch.arange(WINDOW)
    model = FallNet(RATE, WINDOW, oriented=oriented)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(starts) + 511) // 512))
    lossf = nn.BCEWithLogitsLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(starts), generator=gen)
        total, t0 = 0.0, time.time()
        for i in range(0, len(perm), 512):
            idx = perm[i:i + 512]
            x = acc[starts_t[idx].unsqueeze(1) + ar]  # [B, W, 3]
            b = x.shape[0]
            # Augmentation: any orientation (or a small turn), motion scaling, +-15 % gain, a little sensor noise.
            x = torch.bmm(x, small_rotations(b, gen, 20) if oriented else random_rotations(b, gen))
            if dyn_gain:
                x = dynamic_gain(x, gen, *dyn_gain)
            x = x * (0.85 + 0.3 * torch.rand(b, 1, 1, generator=gen))
            x = x + 0.01 * torch.randn(x.shape, generator=gen)
            loss = lossf(model.logits(x), labels_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * b
        log(f"  epoch {epoch + 1}/{epochs} loss {total / len(perm):.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model


@torch.no_grad()
def trial_probs(model, trial):
    a = torch.from_numpy(trial["acc"])
    ends = list(range(WINDOW, len(a) + 1, HOP))
    if not ends:
        return np.zeros(0), ends
    x = torch.stack([a[e - WINDOW:e] for e in ends])
    return model(x).numpy(), ends


def export(model, path):
    dummy = torch.zeros(1, WINDOW, 3)
    torch.onnx.export(model, dummy, path, input_names=["imu"], output_names=["prob"],
                      dynamic_axes={"imu": {0: "batch"}, "prob": {0: "batch"}}, opset_version=13)
