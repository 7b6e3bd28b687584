"""Student implementation, "vectorized masks" style.

* get_data_batch: ``torch.randperm`` on the generator, keep the first
  batch_size indices (with ``index_select``).
* sample_triplets: B x B boolean masks (same label, not self / different
  label), usable anchors from ``mask.any(dim=1)``, then ``torch.multinomial``
  (one draw per row) over the float masks as weights.
* Encoder: explicit layers in ``__init__`` and ``forward`` (Conv2d -> BatchNorm2d
  -> ReLU -> MaxPool2d, three times, then AdaptiveAvgPool2d(2) and Linear).
* triplet_train_step: samples the triplets first and returns None before any
  forward pass when there is no usable anchor; the loss is written by hand,
  ``torch.clamp(d_ap - d_an + margin, min=0).mean()`` with
  ``F.pairwise_distance`` (same eps=1e-6 as nn.TripletMarginLoss).
* fit_linear_probe: ``nn.Linear(..., device=Z.device, dtype=Z.dtype)``, full-batch
  ``torch.optim.Adam(..., weight_decay=...)``, ``nn.CrossEntropyLoss()``, the
  embeddings cloned under ``torch.no_grad()``.

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
    num_examples = X.shape[0]
    indices = torch.randperm(num_examples, generator=generator, device=X.device)[:batch_size]
    X_batch = X.index_select(0, indices)
    y_batch = y.index_select(0, indices.to(y.device))
    return X_batch, y_batch


def sample_triplets(labels, generator=None):
    device = labels.device
    B = labels.shape[0]
    same = labels.unsqueeze(0) == labels.unsqueeze(1)               # (B, B)
    not_self = ~torch.eye(B, dtype=torch.bool, device=device)
    pos_mask = same & not_self
    neg_mask = ~same
    usable = pos_mask.any(dim=1) & neg_mask.any(dim=1)
    anchors = torch.nonzero(usable, as_tuple=False).flatten()
    if anchors.numel() == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return empty, empty.clone(), empty.clone()
    pos_weights = pos_mask[anchors].float()
    neg_weights = neg_mask[anchors].float()
    positives = torch.multinomial(pos_weights, 1, generator=generator).squeeze(1)
    negatives = torch.multinomial(neg_weights, 1, generator=generator).squeeze(1)
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
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(2)
        self.fc = nn.Linear(64 * 2 * 2, z_dim)

    def forward(self, x):
        x = self.pool(self.relu(self.bn1(self.conv1(x))))   # 16x16
        x = self.pool(self.relu(self.bn2(self.conv2(x))))   # 8x8
        x = self.pool(self.relu(self.bn3(self.conv3(x))))   # 4x4
        x = self.gap(x)                                     # 2x2
        x = torch.flatten(x, 1)
        z = self.fc(x)
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    anchors, positives, negatives = sample_triplets(y_batch, generator)
    if anchors.numel() == 0:
        return None
    embeddings = encoder(X_batch)
    margin = 1.0
    d_ap = F.pairwise_distance(embeddings[anchors], embeddings[positives], p=2)
    d_an = F.pairwise_distance(embeddings[anchors], embeddings[negatives], p=2)
    loss = torch.clamp(d_ap - d_an + margin, min=0).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    with torch.no_grad():
        features = Z.clone()
    N, z_dim = features.shape
    probe = nn.Linear(z_dim, num_classes, device=features.device, dtype=features.dtype)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)
    for step in range(num_steps):
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(probe(features), y)
        loss.backward()
        optimizer.step()
    return probe


