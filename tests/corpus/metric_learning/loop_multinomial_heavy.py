"""Student implementation, "loop + multinomial, classic conv net" style.

* get_data_batch: ``torch.randperm(...)[:batch_size]`` and the chosen indices
  then sorted (``torch.sort``) before indexing, for memory locality: every
  subset is still equally likely, only the order inside the batch is sorted.
* sample_triplets: Python loop over the batch; for each usable anchor one
  ``torch.multinomial`` draw over the 0/1 float mask of the positives and one
  over the mask of the negatives.
* Encoder: a classic small CIFAR net, nn.Sequential Conv(3->32) ReLU MaxPool,
  Conv(32->64) ReLU MaxPool, Conv(64->64) ReLU MaxPool, Flatten, Linear
  (122k parameters, ~0.35 s per 256-image forward pass on one core here).
* triplet_train_step: a module-level ``nn.TripletMarginLoss(margin=1.0, p=2)``
  object; ``optimizer.zero_grad()`` before the forward pass.
* fit_linear_probe: full-batch Adam with weight_decay, ``probe.train()`` in
  the loop, ``nn.CrossEntropyLoss``.

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


#: The parameter budget of ``Encoder(z_dim=64)``: at most this many parameters.

TRIPLET_LOSS = nn.TripletMarginLoss(margin=1.0, p=2)


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def get_data_batch(X, y, batch_size, generator=None):
    N = X.shape[0]
    idx = torch.randperm(N, generator=generator, device=X.device)[:batch_size]
    idx, _ = torch.sort(idx)
    X_batch = X[idx]
    y_batch = y[idx.to(y.device)]
    return X_batch, y_batch


def sample_triplets(labels, generator=None):
    B = len(labels)
    anchors, positives, negatives = [], [], []
    for i in range(B):
        pos_mask = (labels == labels[i])
        pos_mask[i] = False
        neg_mask = labels != labels[i]
        if pos_mask.sum() == 0 or neg_mask.sum() == 0:
            continue
        p = torch.multinomial(pos_mask.float(), 1, generator=generator)
        n = torch.multinomial(neg_mask.float(), 1, generator=generator)
        anchors.append(i)
        positives.append(p)
        negatives.append(n)
    if len(anchors) == 0:
        empty = torch.zeros(0, dtype=torch.long, device=labels.device)
        return empty, empty.clone(), empty.clone()
    anchors = torch.tensor(anchors, dtype=torch.long, device=labels.device)
    positives = torch.cat(positives).long()
    negatives = torch.cat(negatives).long()
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
        self.model = nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, z_dim),
        )

    def forward(self, x):
        z = self.model(x)
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    optimizer.zero_grad()
    Z = encoder(X_batch)
    a_idx, p_idx, n_idx = sample_triplets(y_batch, generator)
    if a_idx.shape[0] == 0:
        return None
    loss = TRIPLET_LOSS(Z[a_idx], Z[p_idx], Z[n_idx])
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    N, D = Z.shape
    X_feat = Z.detach()
    probe = nn.Linear(D, num_classes).to(X_feat.device).to(X_feat.dtype)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    for epoch in range(num_steps):
        probe.train()
        optimizer.zero_grad()
        out = probe(X_feat)
        loss = loss_fn(out, y)
        loss.backward()
        optimizer.step()
    return probe


