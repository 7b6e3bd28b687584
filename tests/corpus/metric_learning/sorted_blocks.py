"""Student implementation, "sorted blocks" style (follows the docstring hints).

* get_data_batch: ``torch.multinomial`` over uniform weights, WITHOUT
  replacement.
* sample_triplets: ``torch.sort(labels, stable=True)`` so each class is a
  contiguous block; ``torch.unique_consecutive(return_counts=True)`` gives the
  block starts and sizes; positive ``k = floor(u * (n - 1))`` shifted by one at
  the anchor's own rank; negative ``j = floor(v * (B - n))`` shifted past the
  anchor's block; ``u`` and ``v`` from ``torch.rand`` (float64) on the generator.
* Encoder: the suggested architecture (three Conv2d(3x3, stride 2, padding 1)
  -> BatchNorm2d -> ReLU blocks with 16, 32, 64 channels, Flatten, Linear),
  written with nn.Sequential and the default ``bias=True`` convolutions.
* triplet_train_step: the loss by hand with ``torch.norm`` distances
  ``relu(||a - p|| - ||a - n|| + 1).mean()`` (no eps inside the norm).
* fit_linear_probe: Adam over ``probe.parameters()``, a loop calling
  ``probe.zero_grad()``, ``nn.functional.cross_entropy``; Linear moved with
  ``.to(Z)`` (device and dtype of Z).

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


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def get_data_batch(X, y, batch_size, generator=None):
    weights = torch.ones(X.shape[0], device=X.device)
    idx = torch.multinomial(weights, batch_size, replacement=False, generator=generator)
    return X[idx], y[idx.to(y.device)]


def sample_triplets(labels, generator=None):
    device = labels.device
    B = labels.shape[0]
    if B == 0:
        e = torch.empty(0, dtype=torch.long, device=device)
        return e, e.clone(), e.clone()
    sorted_labels, order = torch.sort(labels, stable=True)
    _, counts = torch.unique_consecutive(sorted_labels, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    block_of_sorted = torch.repeat_interleave(torch.arange(counts.numel(), device=device), counts)
    # per original index: its block's start and size and its rank in the block
    block = torch.empty(B, dtype=torch.long, device=device)
    block[order] = block_of_sorted
    rank = torch.empty(B, dtype=torch.long, device=device)
    rank[order] = torch.arange(B, device=device) - starts[block_of_sorted]
    start = starts[block]
    size = counts[block]
    usable = (size >= 2) & (size < B)
    anchors = torch.nonzero(usable).flatten()
    M = anchors.numel()
    if M == 0:
        e = torch.empty(0, dtype=torch.long, device=device)
        return e, e.clone(), e.clone()
    n = size[anchors]
    s = start[anchors]
    r = rank[anchors]
    u = torch.rand(M, generator=generator, device=device, dtype=torch.float64)
    v = torch.rand(M, generator=generator, device=device, dtype=torch.float64)
    k = torch.floor(u * (n - 1)).long()
    k = torch.minimum(k, n - 2)
    k = k + (k >= r).long()
    positives = order[s + k]
    j = torch.floor(v * (B - n)).long()
    j = torch.minimum(j, B - n - 1)
    j = j + (j >= s).long() * n
    negatives = order[j]
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
        self.layers = nn.Sequential(
            nn.Conv2d(3, 16, 3, stride=2, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, z_dim),
        )

    def forward(self, x):
        return self.layers(x)


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    emb = encoder(X_batch)
    anc, pos, neg = sample_triplets(y_batch, generator)
    if len(anc) == 0:
        return None
    d_pos = torch.norm(emb[anc] - emb[pos], p=2, dim=1)
    d_neg = torch.norm(emb[anc] - emb[neg], p=2, dim=1)
    loss = torch.relu(d_pos - d_neg + 1.0).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    probe = nn.Linear(Z.shape[1], num_classes).to(Z)
    Z = Z.detach()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(num_steps):
        probe.zero_grad()
        loss = nn.functional.cross_entropy(probe(Z), y)
        loss.backward()
        optimizer.step()
    return probe


