"""Student implementation, "course canonical" style.

* get_data_batch: ``torch.randperm(N, generator=generator, device=X.device)[:batch_size]``
  then fancy indexing of X and y.
* sample_triplets: a plain Python loop over the batch; for each anchor the
  candidate positives / negatives are found with ``nonzero`` and one is picked
  with ``torch.randint(len(candidates), (1,), generator=generator)``.
* Encoder: ``nn.Sequential`` of Conv2d(3x3)/ReLU/MaxPool2d x3, Flatten, Linear
  (no BatchNorm).
* triplet_train_step: ``nn.TripletMarginLoss(margin=1.0, p=2)`` module;
  forward pass first, then sampling (the order the docstring lists).
* fit_linear_probe: ``nn.Linear(...).to(Z.device)``, ``torch.optim.Adam`` with
  weight_decay, ``F.cross_entropy``, full batch on ``Z.detach()``.

Part 2: metric learning on CIFAR-10 with a triplet margin loss.

You implement, with PyTorch:

* ``get_data_batch``: a random minibatch drawn WITHOUT replacement;
* ``sample_triplets``: (anchor, positive, negative) index triplets for a batch;
* ``Encoder``: a small convolutional network mapping an image to an embedding;
* ``triplet_train_step``: one optimisation step of the triplet margin loss;
* ``fit_linear_probe``: a linear classifier trained on frozen embeddings.

``train_encoder``, ``embed`` and ``probe_accuracy`` are given: they put your
pieces together (read them, do not change them).

Conventions used everywhere in this file:

* Images ``X`` are float32 tensors of shape ``(N, 3, 32, 32)`` (CIFAR-10,
  pixels in [0, 1] minus the mean colour of the training images).
* Labels ``y`` are int64 tensors of shape ``(N,)`` with values in 0..C-1.
* Embeddings ``Z`` are float tensors of shape ``(N, z_dim)``.
* Randomness comes from ``generator`` when one is given (a ``torch.Generator``
  on the tensors' device), otherwise from torch's global generator, so that
  ``torch.manual_seed`` or a seeded generator makes every result reproducible.
  Never use Python's ``random`` or numpy's random functions here.
"""

import torch
from torch import nn
import torch.nn.functional as F


#: The parameter budget of ``Encoder(z_dim=64)``: at most this many parameters.


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def get_data_batch(X, y, batch_size, generator=None):
    N = X.shape[0]
    perm = torch.randperm(N, generator=generator, device=X.device)
    idx = perm[:batch_size]
    X_batch = X[idx]
    y_batch = y[idx.to(y.device)]
    return X_batch, y_batch


def sample_triplets(labels, generator=None):
    device = labels.device
    B = labels.shape[0]
    all_idx = torch.arange(B, device=device)
    anchors, positives, negatives = [], [], []
    for a in range(B):
        same = labels == labels[a]
        pos_candidates = all_idx[same & (all_idx != a)]
        neg_candidates = all_idx[~same]
        if len(pos_candidates) == 0 or len(neg_candidates) == 0:
            continue
        p = pos_candidates[torch.randint(len(pos_candidates), (1,), generator=generator, device=device)]
        n = neg_candidates[torch.randint(len(neg_candidates), (1,), generator=generator, device=device)]
        anchors.append(a)
        positives.append(p.item())
        negatives.append(n.item())
    anchors = torch.tensor(anchors, dtype=torch.long, device=device)
    positives = torch.tensor(positives, dtype=torch.long, device=device)
    negatives = torch.tensor(negatives, dtype=torch.long, device=device)
    return anchors, positives, negatives


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------


class Encoder(nn.Module):
    """A small convolutional encoder: (N, 3, 32, 32) images -> (N, z_dim).

    Parameter budget: ``Encoder(z_dim=64)`` has at most ``MAX_ENCODER_PARAMS``
    = 250,000 parameters. Keep it small and fast: the grader trains it for a
    few hundred steps on a CPU, and one forward pass over 256 images must take
    well under a second on one CPU core.

    A suggested architecture (about 90,000 parameters with z_dim=64): three
    blocks Conv2d(3x3, stride 2, padding 1) -> BatchNorm2d -> ReLU with 16, 32
    and 64 channels (32x32 -> 16x16 -> 8x8 -> 4x4), then flatten and a Linear
    layer from 64 * 4 * 4 to z_dim.

    Requirements: the output depends on the input image; every parameter
    receives a gradient from the loss; in eval mode (``encoder.eval()``) the
    same input always gives the same output (no dropout or noise at test
    time); the output is float32 like the input.
    """

    def __init__(self, z_dim=64):
        super().__init__()
        self.z_dim = z_dim
        self.net = nn.Sequential(
            nn.Conv2d(3, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),            # 32x32 -> 16x16
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),            # 16x16 -> 8x8
            nn.Conv2d(32, 64, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),            # 8x8 -> 4x4
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, z_dim),
        )

    def forward(self, x):
        z = self.net(x)
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    Z = encoder(X_batch)
    anchor_idx, pos_idx, neg_idx = sample_triplets(y_batch, generator)
    if len(anchor_idx) == 0:
        return None
    loss_fn = nn.TripletMarginLoss(margin=1.0, p=2)
    loss = loss_fn(Z[anchor_idx], Z[pos_idx], Z[neg_idx])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    Z = Z.detach()
    probe = nn.Linear(Z.shape[1], num_classes).to(device=Z.device, dtype=Z.dtype)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(num_steps):
        logits = probe(Z)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return probe


