"""Student implementation, "argsort tricks" style.

* get_data_batch: random keys ``torch.rand(N, generator=...)`` and
  ``argsort()[:batch_size]`` (a uniformly random permutation).
* sample_triplets: one uniform random score per (anchor, candidate) pair with
  ``torch.rand(M, B, generator=...)``, invalid candidates masked to -1, and
  ``argmax(dim=1)`` picks a uniform valid candidate.
* Encoder: strided convolutions (stride 2, no pooling) Conv -> BatchNorm -> ReLU
  with 32, 64, 128 channels, then a Linear layer on the flattened 4x4 map.
* triplet_train_step: ``F.triplet_margin_loss(..., margin=1.0, p=2)``;
  ``sample_triplets(y_batch, generator=generator)`` called with a keyword;
  ``optimizer.zero_grad(set_to_none=True)``.
* fit_linear_probe: full-batch Adam; the weight decay is written into the loss
  as an L2 penalty ``0.5 * weight_decay * sum(p ** 2)`` over all the probe's
  parameters (gradient ``weight_decay * p``, i.e. exactly Adam's coupled
  weight_decay); ``F.cross_entropy``; input ``Z.detach()``.

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
    keys = torch.rand(X.shape[0], generator=generator, device=X.device)
    chosen = keys.argsort()[:batch_size]
    X_batch = X[chosen]
    y_batch = y[chosen.to(y.device)]
    return X_batch, y_batch


def sample_triplets(labels, generator=None):
    B = labels.numel()
    dev = labels.device
    eq = labels[:, None] == labels[None, :]
    idx = torch.arange(B, device=dev)
    pos_ok = eq.clone()
    pos_ok[idx, idx] = False
    neg_ok = ~eq
    has_pos = pos_ok.sum(dim=1) > 0
    has_neg = neg_ok.sum(dim=1) > 0
    anchors = idx[has_pos & has_neg]
    M = anchors.numel()
    if M == 0:
        return (torch.zeros(0, dtype=torch.int64, device=dev),
                torch.zeros(0, dtype=torch.int64, device=dev),
                torch.zeros(0, dtype=torch.int64, device=dev))
    pos_scores = torch.rand(M, B, generator=generator, device=dev)
    pos_scores = pos_scores.masked_fill(~pos_ok[anchors], -1.0)
    positives = pos_scores.argmax(dim=1)
    neg_scores = torch.rand(M, B, generator=generator, device=dev)
    neg_scores = neg_scores.masked_fill(~neg_ok[anchors], -1.0)
    negatives = neg_scores.argmax(dim=1)
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
        def block(c_in, c_out):
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            )
        self.features = nn.Sequential(
            block(3, 32),     # 32 -> 16
            block(32, 64),    # 16 -> 8
            block(64, 128),   # 8 -> 4
        )
        self.head = nn.Linear(128 * 4 * 4, z_dim)

    def forward(self, x):
        h = self.features(x)
        z = self.head(h.view(h.size(0), -1))
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    z = encoder(X_batch)
    a, p, n = sample_triplets(y_batch, generator=generator)
    if a.numel() == 0:
        return None
    loss = F.triplet_margin_loss(z[a], z[p], z[n], margin=1.0, p=2)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.item())


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    inputs = Z.detach()
    probe = nn.Linear(inputs.shape[1], num_classes)
    probe = probe.to(inputs.device, inputs.dtype)
    opt = torch.optim.Adam(probe.parameters(), lr=lr)
    for it in range(num_steps):
        data_loss = F.cross_entropy(probe(inputs), y)
        l2 = sum((param ** 2).sum() for param in probe.parameters())
        loss = data_loss + 0.5 * weight_decay * l2
        opt.zero_grad()
        loss.backward()
        opt.step()
    return probe


