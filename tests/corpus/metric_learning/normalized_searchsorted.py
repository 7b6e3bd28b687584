"""Student implementation, "normalized embeddings + cumsum" style.

* get_data_batch: random keys ``torch.rand(N, generator=...)`` and
  ``topk(batch_size).indices`` (the batch_size largest keys: a uniform subset
  in random order).
* sample_triplets: fully vectorized inverse-CDF draw: for each usable anchor
  count the valid candidates c, draw ``r = floor(u * c)`` and take the
  candidate whose running count (``cumsum`` of the mask row) first exceeds r.
* Encoder: the suggested stride-2 Conv-BN-ReLU network (16, 32, 64 channels)
  with ``bias=False`` convolutions, followed by an L2 normalisation of the
  embedding (``F.normalize(z, dim=1)``), a common metric-learning idiom.
* triplet_train_step: ``F.triplet_margin_loss(..., reduction="none").mean()``.
* fit_linear_probe: Adam driven through a closure, ``optimizer.step(closure)``;
  the embeddings detached.

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
    scores = torch.rand(X.shape[0], generator=generator, device=X.device)
    idx = torch.topk(scores, batch_size).indices
    return X[idx], y[idx.to(y.device)]


def sample_triplets(labels, generator=None):
    dev = labels.device
    B = labels.shape[0]
    same = labels.view(-1, 1) == labels.view(1, -1)
    pos_mask = same & ~torch.eye(B, dtype=torch.bool, device=dev)
    neg_mask = ~same
    n_pos = pos_mask.sum(1)
    n_neg = neg_mask.sum(1)
    anchors = torch.where((n_pos > 0) & (n_neg > 0))[0]

    def draw(mask, counts):
        u = torch.rand(anchors.shape[0], generator=generator, device=dev, dtype=torch.float64)
        r = torch.minimum(torch.floor(u * counts).long(), counts - 1)  # guard u*c rounding up to c
        running = mask.long().cumsum(dim=1)                     # (M, B)
        return (running > r.unsqueeze(1)).long().argmax(dim=1)  # first column past r

    if anchors.numel() == 0:
        z = torch.zeros(0, dtype=torch.long, device=dev)
        return z, z.clone(), z.clone()
    positives = draw(pos_mask[anchors], n_pos[anchors])
    negatives = draw(neg_mask[anchors], n_neg[anchors])
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
        channels = [3, 16, 32, 64]
        layers = []
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        self.conv = nn.Sequential(*layers)
        self.fc = nn.Linear(64 * 4 * 4, z_dim)

    def forward(self, x):
        h = self.conv(x).flatten(start_dim=1)
        z = F.normalize(self.fc(h), p=2, dim=1)
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    encoder.train()
    out = encoder(X_batch)
    anchor, positive, negative = sample_triplets(y_batch, generator)
    if anchor.numel() == 0:
        return None
    per_triplet = F.triplet_margin_loss(out[anchor], out[positive], out[negative],
                                        margin=1.0, p=2, reduction="none")
    loss = per_triplet.mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    feats = Z.detach()
    probe = nn.Linear(feats.size(1), num_classes).to(feats.device, feats.dtype)
    optimizer = torch.optim.Adam(probe.parameters(), lr=lr, weight_decay=weight_decay)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(probe(feats), y)
        loss.backward()
        return loss

    for _ in range(num_steps):
        optimizer.step(closure)
    return probe


