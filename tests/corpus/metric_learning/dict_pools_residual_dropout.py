"""Student implementation, "per-class index pools + residual encoder with dropout" style.

* get_data_batch: ``torch.randperm(N, generator=generator, device=X.device)``
  cut with ``.narrow(0, 0, batch_size)``; rows gathered with ``index_select``.
* sample_triplets: per-class index lists built once in a dict
  (``{label: tensor of indices}`` from ``labels.tolist()``), then a Python loop
  over the anchors in increasing order; for each usable anchor a 0-dim
  ``torch.randint(high, (), generator=generator)`` indexes the class pool with
  the anchor removed (positive) and a ``torch.cat`` of the other classes'
  pools (negative); results collected in Python lists, ``torch.tensor`` at
  the end.
* Encoder: a stem Conv(3->32, stride 2)-BN-ReLU, then two residual blocks
  (3x3 conv -> BN -> ReLU -> 3x3 conv -> BN, plus a stride-2 1x1 projection
  shortcut), global average pooling, ``nn.Dropout(0.1)`` before the Linear
  head (active in training only: eval mode is deterministic).
* triplet_train_step: ``encoder.train(True)``; distances written with
  ``torch.linalg.vector_norm(a - p + 1e-6, dim=1)`` (the eps of
  pairwise_distance) and ``torch.clamp_min(d_ap - d_an + 1.0, 0).mean()``;
  ``loss.item()`` read before ``optimizer.step()``.
* fit_linear_probe: Adam over an explicit list ``[probe.weight, probe.bias]``
  with weight_decay, ``nn.NLLLoss()`` on ``torch.log_softmax``; the embeddings
  ``Z.detach().clone()``; the loop under ``torch.enable_grad()``.
"""

import torch
from torch import nn


def get_data_batch(X, y, batch_size, generator=None):
    idx = torch.randperm(X.shape[0], generator=generator, device=X.device).narrow(0, 0, batch_size)
    return X.index_select(0, idx), y.index_select(0, idx.to(y.device))


def sample_triplets(labels, generator=None):
    device = labels.device
    label_list = labels.tolist()
    pools = {}
    for i, c in enumerate(label_list):
        pools.setdefault(c, []).append(i)
    pools = {c: torch.tensor(v, dtype=torch.long, device=device) for c, v in pools.items()}
    negatives_of = {}
    anchors, positives, negatives = [], [], []
    for a, c in enumerate(label_list):
        own = pools[c]
        if own.numel() < 2 or len(pools) < 2:
            continue
        if c not in negatives_of:
            negatives_of[c] = torch.sort(torch.cat([v for k, v in pools.items() if k != c])).values
        others = negatives_of[c]
        candidates = own[own != a]
        p = candidates[torch.randint(candidates.numel(), (), generator=generator, device=device)]
        n = others[torch.randint(others.numel(), (), generator=generator, device=device)]
        anchors.append(a)
        positives.append(int(p))
        negatives.append(int(n))
    return (torch.tensor(anchors, dtype=torch.long, device=device),
            torch.tensor(positives, dtype=torch.long, device=device),
            torch.tensor(negatives, dtype=torch.long, device=device))


class _ResBlock(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))
        self.act = nn.ReLU()

    def forward(self, x):
        h = self.act(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return self.act(h + self.shortcut(x))


class Encoder(nn.Module):
    def __init__(self, z_dim=64):
        super().__init__()
        self.z_dim = z_dim
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(32), nn.ReLU())       # 16x16
        self.block1 = _ResBlock(32, 48)                                # 8x8
        self.block2 = _ResBlock(48, 64)                                # 4x4
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(0.1)
        self.head = nn.Linear(64, z_dim)

    def forward(self, x):
        h = self.block2(self.block1(self.stem(x)))
        h = torch.flatten(self.pool(h), 1)
        z = self.head(self.drop(h))
        return z


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train(True)
    Z = encoder(X_batch)
    a, p, n = sample_triplets(y_batch, generator)
    if a.shape[0] == 0:
        return None
    d_ap = torch.linalg.vector_norm(Z[a] - Z[p] + 1e-6, dim=1)
    d_an = torch.linalg.vector_norm(Z[a] - Z[n] + 1e-6, dim=1)
    loss = torch.clamp_min(d_ap - d_an + 1.0, 0).mean()
    optimizer.zero_grad()
    loss.backward()
    value = loss.item()
    optimizer.step()
    return value


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    feats = Z.detach().clone()
    probe = nn.Linear(feats.shape[1], num_classes).to(feats.device)
    probe = probe.to(feats.dtype)
    optimizer = torch.optim.Adam([probe.weight, probe.bias], lr=lr, weight_decay=weight_decay)
    nll = nn.NLLLoss()
    with torch.enable_grad():
        for _ in range(num_steps):
            loss = nll(torch.log_softmax(probe(feats), dim=1), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return probe
