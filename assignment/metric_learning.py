# Your file: write your code where it says TODO, then run `python -m grader check` to test it.
# (Course staff: generated from solutions/metric_learning.py by `python -m grader release`; edit that file.)
"""Part 2: metric learning on CIFAR-10 with a triplet margin loss.

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

__all__ = [
    "MAX_ENCODER_PARAMS",
    "get_data_batch",
    "sample_triplets",
    "Encoder",
    "triplet_train_step",
    "train_encoder",
    "embed",
    "fit_linear_probe",
    "probe_accuracy",
]

#: The parameter budget of ``Encoder(z_dim=64)``: at most this many parameters.
MAX_ENCODER_PARAMS = 250_000


# ---------------------------------------------------------------------------
# Sampling
# ---------------------------------------------------------------------------


def get_data_batch(X, y, batch_size, generator=None):
    """A random minibatch of distinct examples (sampling WITHOUT replacement).

    Inputs:
    - X: torch.Tensor of shape (N, ...): the examples (e.g. (N, 3, 32, 32)).
    - y: torch.Tensor of shape (N,), int64: their labels.
    - batch_size: int, 1 <= batch_size <= N.
    - generator: a torch.Generator, or None for torch's global generator.

    Returns a tuple of:
    - X_batch: torch.Tensor of shape (batch_size, ...), X's dtype and device.
    - y_batch: torch.Tensor of shape (batch_size,), int64, y's device; row i
      of X_batch keeps its own label y_batch[i].

    Every subset of batch_size distinct rows is equally likely: no row may
    appear twice in a batch. Hint:
    ``torch.randperm(N, generator=generator, device=X.device)``.
    """
    # TODO: implement this
    raise NotImplementedError("get_data_batch is not implemented yet")
    return X_batch, y_batch


def sample_triplets(labels, generator=None):
    """Index triplets (anchor, positive, negative) for one batch of labels.

    An index ``i`` is a *usable anchor* when its class has at least one other
    member in the batch (a possible positive) AND at least one example of
    another class is present (a possible negative). Classes with a single
    member never anchor.

    For EVERY usable anchor ``a``, in increasing order of index, pick
    - a positive ``p``: uniformly at random among the OTHER members of a's
      class (``labels[p] == labels[a]`` and ``p != a``);
    - a negative ``n``: uniformly at random among ALL examples of the other
      classes (``labels[n] != labels[a]``), each example equally likely
      (not: first a class, then an example of that class).
    All choices are independent.

    Inputs:
    - labels: torch.Tensor of shape (B,), int64.
    - generator: a torch.Generator on labels' device, or None for torch's
      global generator.

    Returns a tuple (anchor_idx, positive_idx, negative_idx) of int64 tensors
    of shape (M,) on labels' device, M = number of usable anchors. When no
    index is usable (every class has one member, or all labels are equal) the
    three tensors are empty (shape (0,)): this is not an error.

    Hints: work without a Python loop over the batch. Sort the labels
    (``torch.sort(labels, stable=True)``) so that each class is a contiguous
    block; a uniform draw among the ``n - 1`` other members of a block of
    size ``n`` is ``k = floor(u * (n - 1))`` for ``u`` uniform in [0, 1),
    shifted by one when ``k`` reaches the anchor's own position.
    """
    # TODO: implement this
    raise NotImplementedError("sample_triplets is not implemented yet")
    return anchors, positives, negatives


# ---------------------------------------------------------------------------
# Encoder
# ---------------------------------------------------------------------------


class Encoder(nn.Module):
    """A small convolutional encoder: (N, 3, 32, 32) images -> (N, z_dim).

    Parameter budget: ``Encoder(z_dim=64)`` has at most ``MAX_ENCODER_PARAMS``
    = 250,000 parameters. Keep it small and fast: the grader trains it for a
    few hundred steps on a CPU, and one forward pass over 256 images must take
    well under a second on one CPU core: the grader allows 1.6 times the CPU
    time of a plain encoder of 3x3 convolutions with 32, 64 and 64 channels,
    each followed by ReLU and 2x2 max pooling (about 0.3 s), in eval mode.

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
        # TODO: implement this
        raise NotImplementedError("Encoder.__init__ is not implemented yet")

    def forward(self, x):
        """x: (N, 3, 32, 32) float32 -> embeddings (N, z_dim) float32."""
        # TODO: implement this
        raise NotImplementedError("Encoder.forward is not implemented yet")
        return z


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------


def triplet_train_step(encoder, optimizer, X_batch, y_batch, generator=None):
    """One optimisation step of the triplet margin loss; returns the loss.

    Inputs:
    - encoder: an nn.Module mapping X_batch to embeddings (B, z_dim).
    - optimizer: a torch.optim optimizer over the encoder's parameters.
    - X_batch: torch.Tensor of shape (B, 3, 32, 32).
    - y_batch: torch.Tensor of shape (B,), int64.
    - generator: passed on to ``sample_triplets`` (call it exactly once, with
      y_batch and this generator).

    Returns:
    - loss: a Python float, the loss of this batch before the update, or None
      when the batch has no usable anchor (then nothing is updated).

    Steps: put the encoder in training mode; embed the whole batch with one
    forward pass; draw the triplets with ``sample_triplets(y_batch,
    generator)``; compute ``nn.TripletMarginLoss(margin=1.0, p=2)`` of
    (Z[anchor], Z[positive], Z[negative]); clear the old gradients, back-
    propagate and take one optimizer step.
    """
    # TODO: implement this
    raise NotImplementedError("triplet_train_step is not implemented yet")
    return loss


def train_encoder(encoder, X, y, num_steps=300, batch_size=64, lr=1e-3, generator=None, verbose=False):
    """Train ``encoder`` with Adam on random batches; returns the loss history.

    Each step draws a batch with ``get_data_batch`` and calls
    ``triplet_train_step``. The returned list holds one float per step (steps
    without a usable anchor are skipped).
    """
    optimizer = torch.optim.Adam(encoder.parameters(), lr=lr)
    history = []
    for step in range(num_steps):
        X_batch, y_batch = get_data_batch(X, y, batch_size, generator)
        loss = triplet_train_step(encoder, optimizer, X_batch, y_batch, generator)
        if loss is not None:
            history.append(loss)
        if verbose and step % 50 == 0 and history:
            print("step %d / %d: loss %.4f" % (step, num_steps, history[-1]))
    return history


@torch.no_grad()
def embed(encoder, X, batch_size=256):
    """Embeddings (N, z_dim) of X in eval mode, computed batch by batch."""
    encoder.eval()
    return torch.cat([encoder(X[i:i + batch_size]) for i in range(0, X.shape[0], batch_size)])


# ---------------------------------------------------------------------------
# Linear probe
# ---------------------------------------------------------------------------


def fit_linear_probe(Z, y, num_classes, num_steps=300, lr=0.1, weight_decay=1e-4):
    """A linear classifier trained on frozen embeddings.

    Inputs:
    - Z: torch.Tensor of shape (N, z_dim): embeddings (treat them as fixed
      inputs: no gradient may flow back into whatever produced them).
    - y: torch.Tensor of shape (N,), int64 in 0..num_classes-1.
    - num_classes: int.
    - num_steps, lr, weight_decay: full-batch Adam steps on the cross-entropy
      loss, with this learning rate and weight decay.

    Returns:
    - an nn.Linear(z_dim, num_classes) on Z's device whose logits
      ``probe(Z)`` classify the embeddings.

    Standardise nothing yourself; start from ``nn.Linear``'s default
    initialisation (seeded by torch's global generator).
    """
    # TODO: implement this
    raise NotImplementedError("fit_linear_probe is not implemented yet")
    return probe


@torch.no_grad()
def probe_accuracy(probe, Z, y):
    """Fraction of the embeddings Z (N, z_dim) that ``probe`` classifies as y."""
    return (probe(Z).argmax(dim=1) == y).double().mean().item()
