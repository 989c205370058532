"""A small 1-D CNN over orientation-invariant features computed inside the graph.

The input is raw acceleration in g, device frame, shape [batch, window, 3]. Everything the network
sees is invariant to how the device is worn: the magnitude, the components along and across the
gravity direction seen in the window's first second, and the tilt of the slowly varying (gravity)
part away from that direction. So the runtime feeds raw samples and no feature code is duplicated.
"""
import torch
from torch import nn


def _norm(x, dim):
    return torch.sqrt((x * x).sum(dim=dim, keepdim=True) + 1e-6)


class Features(nn.Module):
    def __init__(self, rate_hz: int, ref_sec: float = 1.0, lp_sec: float = 0.5, oriented: bool = False):
        super().__init__()
        self.oriented = oriented
        self.ref = int(rate_hz * ref_sec)
        k = int(rate_hz * lp_sec) | 1
        self.pool = nn.AvgPool1d(k, stride=1, padding=k // 2, count_include_pad=False)

    def forward(self, a):  # [B, T, 3]
        m = _norm(a, 2)  # [B, T, 1]
        ref = a[:, : self.ref, :].mean(dim=1, keepdim=True)
        ref = ref / _norm(ref, 2)  # [B, 1, 3]
        v = (a * ref).sum(dim=2, keepdim=True)
        h = torch.sqrt(torch.clamp(m * m - v * v, min=0.0) + 1e-6)
        lp = self.pool(a.transpose(1, 2)).transpose(1, 2)  # [B, T, 3]
        tilt = (lp * ref).sum(dim=2, keepdim=True) / _norm(lp, 2)
        jerk = torch.cat([torch.zeros_like(m[:, :1]), m[:, 1:] - m[:, :-1]], dim=1)
        feats = [m - 1.0, v - 1.0, h, 1.0 - tilt, jerk]
        if self.oriented:  # 1.1.0's experiment (see MODEL_CARD.md): device-frame samples too; not used since
            feats.append(a)
        return torch.cat(feats, dim=2).transpose(1, 2)  # [B, 5 (8 oriented), T]


class FallNet(nn.Module):
    def __init__(self, rate_hz: int, window: int, width: int = 24, oriented: bool = False):
        super().__init__()
        self.features = Features(rate_hz, oriented=oriented)
        self.conv = nn.Sequential(
            nn.Conv1d(8 if oriented else 5, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(width, width, 5, padding=2), nn.BatchNorm1d(width), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(width, 2 * width, 5, padding=2), nn.BatchNorm1d(2 * width), nn.ReLU(), nn.MaxPool1d(2),
        )
        steps = window // 8
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(2 * width * steps, 32), nn.ReLU(),
                                  nn.Linear(32, 1))

    def logits(self, a):
        return self.head(self.conv(self.features(a))).squeeze(1)

    def forward(self, a):
        return torch.sigmoid(self.logits(a))


class Ensemble(nn.Module):
    """Members trained alike from different seeds; the output is their mean probability."""

    def __init__(self, members):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, a):
        return torch.stack([m(a) for m in self.members], dim=0).mean(dim=0)
