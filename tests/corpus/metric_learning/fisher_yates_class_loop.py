"""Student implementation, "Fisher-Yates + loop over classes" style.

* get_data_batch: a partial Fisher-Yates shuffle written by hand: for
  i = 0..batch_size-1 swap position i with a position drawn by
  ``torch.randint(i, N, (1,), generator=generator)`` (the swaps kept in a
  dict, so nothing of size N is built); then fancy indexing of X and y.
* sample_triplets: a Python loop over the CLASSES present (``torch.unique``),
  not over the batch: per class, the member indices and the other-class
  indices from ``nonzero``; all the class's positives at once with
  ``torch.randint(0, n - 1, (n,), generator=...)`` shifted by one at the
  anchor's own position, all its negatives with
  ``torch.randint(0, m, (n,), generator=...)`` into the other-class list;
  the per-class pieces concatenated and put back in increasing anchor order
  with ``argsort``.
* Encoder: ``nn.ModuleList`` of stride-2 Conv -> BatchNorm -> GELU blocks
  (32, 64, 128 channels), global average pooling (``AdaptiveAvgPool2d(1)``)
  and a Linear head, a loop over the blocks in ``forward``.
* triplet_train_step: ``nn.TripletMarginWithDistanceLoss`` with an explicit
  ``nn.PairwiseDistance(p=2)`` distance and margin 1.0;
  ``optimizer.zero_grad(set_to_none=True)``; returns ``loss.detach().item()``.
* fit_linear_probe: logits written by hand ``Z @ W.T + b`` from the probe's
  weight and bias; loss = ``-(log_softmax * one_hot).sum(1).mean()``; Adam with
  weight_decay; the embeddings detached.
"""

import torch
from torch import nn
import torch.nn.functional as F


def get_data_batch(X, y, batch_size, generator=None):
    N = X.shape[0]
    swaps = {}
    chosen = []
    for i in range(batch_size):
        j = int(torch.randint(i, N, (1,), generator=generator, device=X.device).item())
        vi = swaps.get(i, i)
        vj = swaps.get(j, j)
        chosen.append(vj)
        swaps[j] = vi
        swaps[i] = vj
    idx = torch.tensor(chosen, dtype=torch.long, device=X.device)
    return X[idx], y[idx.to(y.device)]


def sample_triplets(labels, generator=None):
    device = labels.device
    anchors, positives, negatives = [], [], []
    for c in torch.unique(labels):
        members = (labels == c).nonzero().flatten()
        others = (labels != c).nonzero().flatten()
        n = members.numel()
        m = others.numel()
        if n < 2 or m == 0:
            continue
        k = torch.randint(0, n - 1, (n,), generator=generator, device=device)
        k = k + (k >= torch.arange(n, device=device)).long()
        j = torch.randint(0, m, (n,), generator=generator, device=device)
        anchors.append(members)
        positives.append(members[k])
        negatives.append(others[j])
    if not anchors:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    a = torch.cat(anchors)
    p = torch.cat(positives)
    n_ = torch.cat(negatives)
    order = torch.argsort(a)
    return a[order], p[order], n_[order]


class Encoder(nn.Module):
    def __init__(self, z_dim=64):
        super().__init__()
        self.z_dim = z_dim
        channels = [3, 32, 64, 128]
        self.blocks = nn.ModuleList()
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            self.blocks.append(nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1),
                nn.BatchNorm2d(c_out),
                nn.GELU(),
            ))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels[-1], z_dim)

    def forward(self, x):
        for block in self.blocks:
            x = block(x)
        x = self.pool(x).flatten(1)
        z = self.fc(x)
        return z


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    optimizer.zero_grad(set_to_none=True)
    Z = encoder(X_batch)
    a, p, n = sample_triplets(y_batch, generator)
    if a.numel() == 0:
        return None
    criterion = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=2), margin=1.0)
    loss = criterion(Z[a], Z[p], Z[n])
    loss.backward()
    optimizer.step()
    return loss.detach().item()


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    feats = Z.detach()
    probe = nn.Linear(feats.shape[1], num_classes).to(device=feats.device, dtype=feats.dtype)
    opt = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    targets = F.one_hot(y, num_classes).to(feats.dtype)
    for _ in range(num_steps):
        logits = feats @ probe.weight.T + probe.bias
        loss = -(F.log_softmax(logits, dim=1) * targets).sum(dim=1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return probe
