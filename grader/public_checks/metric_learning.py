"""Part 2, public checks: contracts of the batch sampler, the triplet sampler and the encoder.

Students run these with ``python -m grader check``; the autograder runs them too. They
need no reference solution: the expectations follow from the definitions in the
docstrings of ``metric_learning.py``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from grader import compare
from grader.errors import CheckFailed
from grader.registry import Part, check

if TYPE_CHECKING:
    from grader.runner import Context

PART = Part("metric_learning", "Part 2: metric learning", files=("metric_learning.py",), datasets=("cifar10",))

#: The parameter budget stated in the Encoder's docstring (Encoder(z_dim=64)).
MAX_ENCODER_PARAMS = 250_000


# ----------------------------------------------------------------------------- shared helpers


def usable_anchors(labels: torch.Tensor) -> torch.Tensor:
    """Indices whose class has another member and that have some other class present (sorted)."""
    labels = labels.reshape(-1)
    if labels.numel() == 0:
        return torch.zeros(0, dtype=torch.int64)
    _, inverse, counts = torch.unique(labels, return_inverse=True, return_counts=True)
    size = counts[inverse]
    keep = (size >= 2) & (size < labels.numel())
    return torch.arange(labels.numel())[keep]


def validate_triplets(out: Any, labels: torch.Tensor, what: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check one output of ``sample_triplets(labels)`` against the contract; return (a, p, n) sorted by anchor.

    Raises CheckFailed naming the likely bug: positive equal to the anchor, negative of the anchor's
    class, single-member classes anchoring, anchors missing or repeated, wrong dtype or shape.
    """
    a, p, n = compare.unpack(out, 3, what, ("anchor_idx", "positive_idx", "negative_idx"))
    for name, t in (("anchor_idx", a), ("positive_idx", p), ("negative_idx", n)):
        if not isinstance(t, torch.Tensor):
            raise CheckFailed(f"{what}: {name} must be a torch.Tensor, got {compare.describe(t)}.")
        if t.dtype != torch.int64:
            raise CheckFailed(f"{what}: {name} has dtype {str(t.dtype).removeprefix('torch.')}; indices must be "
                              "int64 (torch.long), on the labels' device.")
        if t.dim() != 1:
            raise CheckFailed(f"{what}: {name} must be 1-dimensional (M,), got shape {tuple(t.shape)}.")
        if t.device != labels.device:
            raise CheckFailed(f"{what}: {name} is on {t.device}, the labels on {labels.device}.")
    if not a.shape == p.shape == n.shape:
        raise CheckFailed(f"{what}: the three index tensors must have the same length, got {a.numel()}, "
                          f"{p.numel()} and {n.numel()}.")
    B = labels.numel()
    for name, t in (("anchor_idx", a), ("positive_idx", p), ("negative_idx", n)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= B):
            raise CheckFailed(f"{what}: {name} holds {int(t.min())}..{int(t.max())}, outside the batch's "
                              f"indices 0..{B - 1}.")
    expected = usable_anchors(labels)
    counts = torch.bincount(labels.reshape(-1).cpu(), minlength=int(labels.max()) + 1) if B else torch.zeros(0)
    if a.numel() and bool((counts[labels[a]] == 1).any()):
        i = int(a[(counts[labels[a]] == 1).nonzero()[0, 0]])
        raise CheckFailed(f"{what}: index {i} is used as an anchor but it is the only member of class "
                          f"{int(labels[i])} in the batch. Classes with a single member have no positive and must "
                          "never anchor.")
    if a.numel() and len(torch.unique(labels)) == 1:
        raise CheckFailed(f"{what}: every label is {int(labels[0])}, so no negative exists; the documented result "
                          "is three empty tensors, but anchors were returned.")
    order = torch.argsort(a, stable=True)
    a, p, n = a[order], p[order], n[order]
    if a.numel() != expected.numel() or not torch.equal(a, expected):
        missing = sorted(set(expected.tolist()) - set(a.tolist()))
        repeated = int(a.numel() - torch.unique(a).numel())
        if repeated:
            detail = f"{repeated} anchor(s) appear more than once"
        elif missing:
            detail = f"usable anchors {missing[:5]} are missing"
        else:
            detail = "the anchors are not the usable indices"
        raise CheckFailed(f"{what}: expected one triplet for EVERY usable anchor ({expected.numel()} here: each "
                          f"index whose class has another member), got {a.numel()} anchors; {detail}.")
    if a.numel() == 0:
        return a, p, n
    same = p == a
    if bool(same.any()):
        i = int(a[same.nonzero()[0, 0]])
        raise CheckFailed(f"{what}: the positive of anchor {i} is the anchor itself. The positive must be ANOTHER "
                          "member of the anchor's class (p != a): draw among the class's other members.")
    wrong = labels[p] != labels[a]
    if bool(wrong.any()):
        j = int(wrong.nonzero()[0, 0])
        raise CheckFailed(f"{what}: the positive {int(p[j])} of anchor {int(a[j])} has label {int(labels[p[j]])}, "
                          f"the anchor {int(labels[a[j]])}. Positives must share the anchor's class.")
    clash = labels[n] == labels[a]
    if bool(clash.any()):
        j = int(clash.nonzero()[0, 0])
        raise CheckFailed(f"{what}: the negative {int(n[j])} of anchor {int(a[j])} has the anchor's own class "
                          f"{int(labels[a[j]])}. Negatives must come from the OTHER classes only.")
    return a, p, n


# ----------------------------------------------------------------------------- public checks


@check("get_data_batch: shapes, distinct rows, labels kept with their rows (public inputs)",
       timeout=60, weight=1)
def public_batch(ctx: Context) -> None:
    N = 20
    X = torch.arange(N, dtype=torch.float32)[:, None, None, None].expand(N, 3, 4, 4).contiguous()
    y = torch.arange(N) % 4
    with ctx.student() as s:
        out = s.probe("metric_learning.one_batch", X, y, 10, 0, timeout=ctx.timeout(30), what="get_data_batch()")
    what = "get_data_batch(X (20, 3, 4, 4), y, batch_size=10, generator)"
    Xb, yb = compare.unpack(out, 2, what, ("X_batch", "y_batch"))
    compare.structure(Xb, X[:10], what=what, name="X_batch")
    compare.int_tensor(yb, what=what, name="y_batch", shape=(10,))
    ids = Xb[:, 0, 0, 0].long()
    if ids.unique().numel() != 10:
        raise CheckFailed(f"{what}: the batch holds the same row more than once. Sample WITHOUT replacement "
                          "(torch.randperm), not with torch.randint.")
    if not torch.equal(yb, y[ids]):
        raise CheckFailed(f"{what}: y_batch[i] is not the label of X_batch[i]; index X and y with the same indices.")


@check("sample_triplets: valid triplets for a small batch (public inputs)", timeout=60, weight=1)
def public_sampler(ctx: Context) -> None:
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    with ctx.student() as s:
        out = s.probe("metric_learning.one_triplet_sample", labels, 0, timeout=ctx.timeout(30),
                      what="sample_triplets()")
    validate_triplets(out, labels, "sample_triplets(tensor([0, 0, 1, 1, 1, 2]), generator)")


@check("Encoder: (N, 3, 32, 32) -> (N, 64) float32 within the parameter budget (public inputs)",
       timeout=60, weight=1)
def public_encoder(ctx: Context) -> None:
    X = torch.randn(5, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with ctx.student() as s:
        out = s.probe("metric_learning.encoder_report", X, 0, timeout=ctx.timeout(30), what="Encoder()")
    z = out["first"]
    compare.structure(z, torch.zeros(5, 64), what="Encoder()(X) with X of shape (5, 3, 32, 32) in eval mode",
                      name="the embeddings")
    total = sum(int(k) for _, k in out["params"])
    if total > MAX_ENCODER_PARAMS:
        raise CheckFailed(f"Encoder(z_dim=64) has {total:,} parameters, more than the budget of "
                          f"{MAX_ENCODER_PARAMS:,}. Use fewer channels or a smaller final Linear layer (downsample "
                          "before flattening).")
