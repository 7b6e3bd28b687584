"""Part 2, hidden checks: metric learning on CIFAR-10 (triplet sampler, encoder, training, probe).

Expected values come from the definitions and from the reference solution at grading time,
on hidden, seeded inputs. Weights sit next to each check; the part is worth 39 points
(3 public + 36 hidden).

Statistics. Uniformity is tested cell by cell with exact binomial tail bounds and a union bound
over the cells (``kits.worst_cell``), so a correct uniform sampler fails with probability below
``kits.FALSE_ALARM`` = 1e-6 whatever the hidden seed.

Training. :func:`triplet_training` trains the student's ``Encoder(z_dim=64)`` with the
student's ``get_data_batch`` and ``triplet_train_step`` inside the sandbox, in the grader's
own loop (Adam, fixed learning rate, steps, batch size and seeds), on a seeded subset of
``TRAIN_SUBSET`` CIFAR-10 training images. The probe sends back embeddings of that subset
and of held-out test images (their labels never leave the parent) before and after
training; the parent scores them with a k-NN classifier (k = ``KNN_K``, Euclidean).
Floors per data profile were measured with the reference (bench/calibrate_metric_learning.py).

In-place changes. Inputs that the student's functions must leave alone (X and y of
``get_data_batch``, the labels of ``sample_triplets``, the Encoder's images, the embeddings and
labels of ``fit_linear_probe``) go to the sandbox as :class:`grader.wire.Watched` shared memory:
whether they were written into is read by the parent from that memory after the probe, never
reported by code running next to the student's.
"""
from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from gradescope_utils.autograder_utils.decorators import leaderboard, partial_credit
from torch import nn

from grader import compare, kits, wire
from grader.errors import CheckFailed
from grader.public_checks.metric_learning import MAX_ENCODER_PARAMS, PART, usable_anchors, validate_triplets
from grader.registry import check

if TYPE_CHECKING:
    from grader.data import RawSplits
    from grader.runner import Context

__all__ = ["PART", "TRAINING", "KNN_FLOOR", "KNN_MARGIN", "knn_accuracy", "pixel_baseline"]



class TrainingSettings(TypedDict):
    subset: int                 # training images drawn from the data
    held_out: dict[str, int]    # held-out images per data profile
    steps: int
    batch_size: int
    lr: float
    z_dim: int


# The grader's training protocol (the student's code, the grader's hyperparameters and seeds).
TRAINING: TrainingSettings = {"subset": 2000, "held_out": {"sample": 1000, "full": 2000}, "steps": 400,
                              "batch_size": 64, "lr": 1e-3, "z_dim": 64}
KNN_K = 10
# k-NN accuracy of the trained encoder on held-out images must reach the floor of the data
# profile, and beat k-NN on the raw pixels of the same images (a baseline the grader computes, not
# the student's untrained encoder, whose state the student controls) by KNN_MARGIN. Reference on the
# sample profile over 8 hidden seeds: raw pixels 0.256-0.271, trained 0.37-0.41, gain over the pixels
# at least +0.10 (bench/calibrate_metric_learning.py): the floor sits 0.07 below the worst seed, the
# margin at half the smallest gain.
# The full profile trains on the same number of images (a subset), so the same floor is documented.
KNN_FLOOR = {"sample": 0.30, "full": 0.30}
KNN_MARGIN = 0.05
# Forward pass over 256 images: at most SPEED_FACTOR times the CPU time of the grader's yardstick, a plain
# 32/64/64-channel convolutional encoder with max pooling (grader/probes/metric_learning.py), timed in a
# sandboxed process like the student's and interleaved with it: being convolution-bound like the encoders
# it measures, it slows down with them on a loaded machine, where a small reference encoder measured in
# the grader's own process moved by 2x (8-18 ms) with the machine's load and what the process had run
# before. The limit follows from the training check: 300 steps of 64 images cost about 225 forward passes
# over 256 images (a backward pass costs about twice a forward one), doubled in Gradescope's half CPU;
# at 0.3 s a pass that is about 2 minutes of the run's 10. The yardstick takes about 0.19 s here, so the
# limit sits near 0.3 s: the yardstick's own architecture passes, 64/128/64 channels (about 0.46 s) do not.
# A ratio within BAND of the limit is measured again (up to SPEED_MAX_ROUNDS rounds) before a decision.
SPEED_FACTOR = 1.6
SPEED_MIN_ROUNDS, SPEED_MAX_ROUNDS, SPEED_BAND = 3, 12, 1.3
CALIBRATION_REPEAT = 1  # passes of the yardstick per round: about 0.2 s, well above timer noise
PROBE_FLOOR = 0.85  # linear probe accuracy on well-separated Gaussian clusters (reference: about 0.99)


# ----------------------------------------------------------------------------- get_data_batch


@check("get_data_batch: without replacement, labels kept, uniform, seeded by the generator", timeout=120, weight=3)
def batch_contract(ctx: Context) -> None:
    N, B, draws = 30, 12, 400
    gen = ctx.generator("batch")
    X = torch.arange(N, dtype=torch.float32)[:, None, None, None].expand(N, 3, 2, 2).contiguous()
    y = torch.randint(0, 5, (N,), generator=gen)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    what = f"get_data_batch(X ({N}, 3, 2, 2), y, batch_size={B}, generator)"
    with ctx.student() as s, wire.WatchedInputs(X=X, y=y) as drawn, wire.WatchedInputs(X=X, y=y) as full:
        out = s.probe("metric_learning.batches", *drawn.args(), B, draws, seed, timeout=ctx.timeout(60),
                      what="get_data_batch()")
        whole = s.probe("metric_learning.one_batch", *full.args(), N, seed, timeout=ctx.timeout(30),
                        what="get_data_batch()")
        written = list(dict.fromkeys([*drawn.written(), *full.written()]))
    Xb, yb = compare.unpack(out["first"], 2, what, ("X_batch", "y_batch"))
    compare.structure(Xb, X[:B], what=what, name="X_batch")
    compare.int_tensor(yb, what=what, name="y_batch", shape=(B,))
    if written:
        raise CheckFailed(f"{what} modified {' and '.join(written)} in place; index them instead (X[idx], y[idx]) "
                          "and leave the data set as it was.")
    ids, labels = out["ids"], out["labels"]
    if not isinstance(ids, torch.Tensor) or ids.numel() != draws * B:
        raise CheckFailed(f"{what} did not return batches of {B} rows on every call.")
    if not torch.equal(ids, ids.round()) or ids.min() < 0 or ids.max() >= N:
        raise CheckFailed(f"{what}: X_batch holds rows that are not rows of X.")
    idx = ids.long().view(draws, B)
    if not torch.equal(labels.long().view(draws, B), y[idx]):
        raise CheckFailed(f"{what}: y_batch[i] is not the label of X_batch[i]. Index X and y with the same indices.")
    dup = [i for i in range(draws) if idx[i].unique().numel() != B]
    if dup:
        raise CheckFailed(f"{what}: {len(dup)} of {draws} batches hold the same row twice. Sample WITHOUT "
                          "replacement: take the first batch_size entries of torch.randperm(N, generator=...), "
                          "not torch.randint.")
    WX, wy = compare.unpack(whole, 2, f"get_data_batch(X, y, batch_size={N})", ("X_batch", "y_batch"))
    compare.structure(WX, X, what=f"get_data_batch(X, y, batch_size={N})", name="X_batch")
    if sorted(WX[:, 0, 0, 0].tolist()) != list(range(N)):
        raise CheckFailed(f"get_data_batch(X, y, batch_size={N}) with batch_size = N must return every row once.")
    if idx[0].tolist() == idx[1].tolist() or all(idx[i].tolist() == idx[0].tolist() for i in range(1, 5)):
        raise CheckFailed(f"{what} returned the same batch on consecutive calls with one generator; draw new random "
                          "indices on every call (use the generator you are given).")
    # each batch holds a row at most once, with probability B / N: a row's count is Binomial(draws, B / N)
    row = kits.worst_cell(torch.bincount(idx.flatten(), minlength=N), torch.full((N,), B / N), draws)
    if row.skewed:
        raise CheckFailed(f"{what}: over {draws} batches row {row.index} was drawn {row.figures()}. Every subset of "
                          "rows must be equally likely: shuffle all N indices (torch.randperm), not a fixed slice.")
    if not isinstance(out["again"], torch.Tensor) or not torch.equal(out["again"], ids[:2 * B]):
        raise CheckFailed(f"{what}: a fresh generator with the same seed gives different batches. Draw the "
                          "indices with the generator argument (torch.randperm(N, generator=generator)), not with "
                          "Python's random or numpy.")
    if isinstance(out["other"], torch.Tensor) and torch.equal(out["other"], ids[:2 * B]):
        raise CheckFailed(f"{what}: generators with different seeds give the same batches; the generator argument "
                          "is ignored.")


# ----------------------------------------------------------------------------- sample_triplets


def _shuffled(gen: torch.Generator, labels: list[int]) -> torch.Tensor:
    t = torch.tensor(labels, dtype=torch.int64)
    return t[torch.randperm(len(labels), generator=gen)]


def _adversarial_batches(gen: torch.Generator) -> list[tuple[str, torch.Tensor]]:
    return [
        ("every class once", torch.randperm(10, generator=gen)),
        ("all labels the same", torch.full((7,), 3, dtype=torch.int64)),
        ("two classes (5 and 3 members)", _shuffled(gen, [0] * 5 + [1] * 3)),
        ("one large class and three single members", _shuffled(gen, [2] * 30 + [0, 5, 7])),
        ("ten classes of two members", _shuffled(gen, [c for c in range(10) for _ in range(2)])),
        ("labels 4 and 9 only", _shuffled(gen, [9] * 4 + [4] * 2)),
        ("64 random labels of 10 classes", torch.randint(0, 10, (64,), generator=gen)),
    ]


@check("sample_triplets: contract on adversarial label distributions", timeout=120, weight=4)
def sampler_contract(ctx: Context) -> None:
    gen = ctx.generator("contract")
    seeds = [int(v) for v in torch.randint(0, 2**31 - 1, (3,), generator=gen)]
    with ctx.student() as s:
        for name, labels in _adversarial_batches(gen):
            with wire.WatchedInputs(labels=labels) as watched:
                out = s.probe("metric_learning.triplets", watched["labels"], seeds, timeout=ctx.timeout(30),
                              what=f"sample_triplets() on a batch with {name}")
                written = watched.written()
            what = f"sample_triplets(labels, generator) on a batch with {name} (labels {labels.tolist()[:12]}" + \
                   ("...)" if labels.numel() > 12 else ")")
            if written:
                raise CheckFailed(f"{what} modified labels in place; sort or index a copy instead.")
            for o in out["outs"]:
                validate_triplets(o, labels, what)


def _negatives_fit_class_first(counts: torch.Tensor, labels: torch.Tensor, anchor_label: int) -> bool:
    """True when negative counts per class look equal across classes rather than proportional to size."""
    others = [c for c in labels.unique().tolist() if c != anchor_label]
    per_class = torch.tensor([float(counts[labels == c].sum()) for c in others])
    sizes = torch.tensor([float((labels == c).sum()) for c in others])
    total = per_class.sum()
    by_size = total * sizes / sizes.sum()
    equal = torch.full_like(per_class, float(total) / len(others))
    return float(((per_class - equal) ** 2).sum()) < float(((per_class - by_size) ** 2).sum())


@check("sample_triplets: positives and negatives are uniform (Chernoff bound, false alarm < 1e-6)",
       depends=("sampler_contract",), timeout=120, weight=4)
def sampler_uniform(ctx: Context) -> None:
    gen = ctx.generator("uniform")
    labels = _shuffled(gen, [0] * 10 + [1] * 6 + [2] * 4 + [3] * 2 + [4] + [5])
    B, draws = labels.numel(), 600
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    what = f"sample_triplets(labels, generator) over {draws} calls on a batch of class sizes 10, 6, 4, 2, 1, 1"
    with ctx.student() as s:
        out = s.probe("metric_learning.triplet_draws", labels, draws, seed, timeout=ctx.timeout(90),
                      what="sample_triplets() called repeatedly")
    if out.get("stacked") is None:
        validate_triplets(out.get("first"), labels, what)
        raise CheckFailed(f"{what}: the calls returned results of different lengths; every call must return one "
                          "triplet per usable anchor.")
    A, P, Nn = out["stacked"]
    anchors = usable_anchors(labels)
    M = anchors.numel()
    if not all(isinstance(t, torch.Tensor) and t.shape == (draws, M) and t.dtype == torch.int64 for t in (A, P, Nn)):
        raise CheckFailed(f"{what}: expected {M} int64 triplets per call.")
    order = torch.argsort(A, dim=1, stable=True)
    A, P, Nn = A.gather(1, order), P.gather(1, order), Nn.gather(1, order)
    if not torch.equal(A, anchors.expand(draws, M)):
        raise CheckFailed(f"{what}: the anchors are not the usable indices on every call.")
    if P.min() < 0 or P.max() >= B or Nn.min() < 0 or Nn.max() >= B:
        raise CheckFailed(f"{what}: indices outside the batch.")
    if bool((P == A).any()) or bool((labels[P] != labels[A]).any()) or bool((labels[Nn] == labels[A]).any()):
        raise CheckFailed(f"{what}: some calls return invalid triplets (positive equal to the anchor, of another "
                          "class, or a negative of the anchor's class); draw positives among the OTHER members of "
                          "the anchor's class and negatives among the other classes.")
    if all(torch.equal(P[i], P[0]) and torch.equal(Nn[i], Nn[0]) for i in range(1, draws)):
        raise CheckFailed(f"{what}: every call returned the same triplets. Draw fresh random numbers from the "
                          "generator on each call (do not reseed or create a new generator inside).")
    sizes = torch.bincount(labels)[labels]                          # (B,) size of each index's class
    pos_counts = torch.zeros(M, B, dtype=torch.int64).scatter_add_(1, P.t().contiguous(),
                                                                   torch.ones(M, draws, dtype=torch.int64))
    neg_counts = torch.zeros(M, B, dtype=torch.int64).scatter_add_(1, Nn.t().contiguous(),
                                                                   torch.ones(M, draws, dtype=torch.int64))
    same = labels[anchors][:, None] == labels[None, :]              # (M, B)
    is_anchor = anchors[:, None] == torch.arange(B)[None, :]
    pos_mask = same & ~is_anchor
    neg_mask = ~same
    pos_p = 1.0 / (sizes[anchors] - 1).double()
    neg_p = 1.0 / (B - sizes[anchors]).double()
    cells = int(pos_mask.sum() + neg_mask.sum())  # one union bound over the positives' and the negatives' cells
    pos = kits.worst_cell(pos_counts[pos_mask], pos_p[:, None].expand(M, B)[pos_mask], draws, cells=cells)
    neg = kits.worst_cell(neg_counts[neg_mask], neg_p[:, None].expand(M, B)[neg_mask], draws, cells=cells)
    if pos.skewed:
        r, c = pos_mask.nonzero()[pos.index].tolist()
        a = int(anchors[r])
        raise CheckFailed(f"{what}: anchor {a} (class {int(labels[a])} with {int(sizes[a])} members) got index {c} "
                          f"as its positive {pos.figures()}. Choose the positive uniformly among the other "
                          "members of the class, with the generator, not by a fixed rule (such as the next member).")
    if neg.skewed:
        r, c = neg_mask.nonzero()[neg.index].tolist()
        a = int(anchors[r])
        hint = ("Your negatives look uniform over the CLASSES (pick a class, then a member), which over-samples "
                "small classes; draw uniformly over all examples of the other classes."
                if _negatives_fit_class_first(neg_counts[r], labels, int(labels[a])) else
                "Choose the negative uniformly among all examples of the other classes, with the generator.")
        raise CheckFailed(f"{what}: anchor {a} (class {int(labels[a])}) got index {c} (class {int(labels[c])}, "
                          f"{int(sizes[c])} members) as its negative {neg.figures()}. {hint}")
    ctx.note(f"Uniformity: smallest tail bound {min(pos.bound, neg.bound):.2g} over {cells} cells ({draws} calls).")


@check("sample_triplets: reproducible under a seed, different across seeds", depends=("sampler_contract",),
       timeout=60, weight=2)
def sampler_seeded(ctx: Context) -> None:
    gen = ctx.generator("seeded")
    labels = torch.randint(0, 6, (48,), generator=gen)
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
    what = "sample_triplets(labels, generator) with 48 labels"
    with ctx.student() as s:
        out = s.probe("metric_learning.triplet_seeding", labels, seed, timeout=ctx.timeout(30),
                      what="sample_triplets()")
    got = {k: validate_triplets(v, labels, what) for k, v in out.items()}

    def same(x: str, y: str) -> bool:
        return all(torch.equal(a, b) for a, b in zip(got[x], got[y]))

    if not same("same1", "same2"):
        raise CheckFailed(f"{what}: two generators seeded alike give different triplets. Draw every random number "
                          "from the generator argument (e.g. torch.rand(..., generator=generator)); Python's "
                          "random, numpy or torch's global generator ignore it.")
    if same("same1", "other"):
        raise CheckFailed(f"{what}: generators with different seeds give the same triplets, so the choice is a fixed "
                          "pattern. Draw positives and negatives at random with the generator.")
    if not same("global1", "global2"):
        raise CheckFailed(f"{what} with generator=None: the same torch.manual_seed gives different triplets; with "
                          "no generator use torch's global one (pass generator=None on to torch.rand/randint).")
    if same("global1", "global3"):
        raise CheckFailed(f"{what} with generator=None: different torch.manual_seed values give the same triplets.")


# ----------------------------------------------------------------------------- Encoder


def _images(gen: torch.Generator, n: int) -> torch.Tensor:
    return (torch.rand(n, 3, 32, 32, generator=gen) - 0.5).float()


@check("Encoder: output shape (N, z_dim), float32, z_dim honoured, depends on the input", timeout=90, weight=3)
def encoder_shape(ctx: Context) -> None:
    X = _images(ctx.generator("shape"), 7)
    with ctx.student() as s, wire.WatchedInputs(X=X) as watched:
        out = s.probe("metric_learning.encoder_outputs", watched["X"], [16, 128], 0, timeout=ctx.timeout(60),
                      what="Encoder(...)(X)")
        written = watched.written()
    for key, shape, what in (("default", (7, 64), "Encoder()(X) with X of shape (7, 3, 32, 32)"),
                             ("single", (1, 64), "Encoder()(X[:1]) (a batch of one image)"),
                             ("z16", (7, 16), "Encoder(z_dim=16)(X)"),
                             ("z128", (7, 128), "Encoder(z_dim=128)(X)")):
        z = out[key]
        if isinstance(z, torch.Tensor) and z.dim() == 2 and z.shape[0] == shape[0] and z.shape[1] != shape[1]:
            raise CheckFailed(f"{what} returned embeddings of size {z.shape[1]}, expected z_dim = {shape[1]}. Build "
                              "the last layer with the z_dim argument (nn.Linear(..., z_dim)), not a fixed number.")
        if isinstance(z, torch.Tensor) and z.dim() != 2:
            raise CheckFailed(f"{what} returned shape {tuple(z.shape)}; embeddings must be (N, z_dim) = {shape}: "
                              "flatten the feature maps (x.flatten(1)) before the last Linear layer.")
        compare.structure(z, torch.zeros(shape), what=what + " in eval mode", name="the embeddings")
    if written:
        raise CheckFailed("Encoder's forward modified its input X in place (an in-place operation such as "
                          "nn.ReLU(inplace=True) or x += ... applied to x itself). Never change the input images.")
    z = out["default"].double()
    spread = float((z - z[:1]).abs().max())
    scale = float(z.abs().max())
    # an output that does not depend on the input is the same for every image up to a few float32 ulps
    if spread <= compare.rtol(torch.float32) * scale:
        raise CheckFailed("Encoder()(X): all 7 different images get the same embedding, so the output does not "
                          "depend on the input. Make sure forward() computes the embedding from x (and returns it).")


@check("Encoder: parameter budget, deterministic in eval mode, gradients reach every parameter",
       depends=("encoder_shape",), timeout=90, weight=3)
def encoder_properties(ctx: Context) -> None:
    X = _images(ctx.generator("props"), 16)
    with ctx.student() as s:
        out = s.probe("metric_learning.encoder_report", X, 0, timeout=ctx.timeout(60), what="Encoder(z_dim=64)")
    total = sum(int(k) for _, k in out["params"])
    if total > MAX_ENCODER_PARAMS:
        biggest = max(out["params"], key=lambda t: t[1])
        raise CheckFailed(f"Encoder(z_dim=64) has {total:,} parameters, more than the budget of "
                          f"{MAX_ENCODER_PARAMS:,} (largest: {biggest[0]} with {int(biggest[1]):,}). Downsample more "
                          "before flattening, or use fewer channels.")
    if total == 0:
        raise CheckFailed("Encoder(z_dim=64) has no parameters registered. Assign layers as attributes of self "
                          "(or wrap lists in nn.ModuleList / nn.Sequential) so that PyTorch can train them.")
    what = "Encoder(z_dim=64) in eval mode"
    first = compare.structure(out["first"], torch.zeros(16, 64), what=what, name="the embeddings")
    second = compare.structure(out["second"], first, what=what + " (second call)", name="the embeddings")
    if not torch.equal(first, second):
        raise CheckFailed(f"{what}: the same images give different embeddings on two calls. Something random is "
                          "active in eval mode (dropout written as F.dropout(x, p) without training=self.training, "
                          "or added noise); use nn.Dropout, which eval() switches off.")
    head = compare.structure(out["head"], first[:3], what=what + " on the first 3 images", name="the embeddings")
    # the same float32 computation in another batch size may sum in another order: each embedding depends
    # on all 3 * 32 * 32 inputs of its image; a statistic taken over the batch changes it by far more
    tol = compare.rtol(torch.float32, terms=3 * 32 * 32)
    if not torch.allclose(head, first[:3], rtol=tol, atol=tol * max(1.0, float(first.abs().max()))):
        raise CheckFailed(f"{what}: an image's embedding depends on the other images in the batch (the first 3 "
                          "images alone give other embeddings than inside a batch of 16). In eval mode normalise "
                          "with running statistics: use nn.BatchNorm2d, not batch statistics computed by hand.")
    grads = out["grads"]
    missing = [name for name, (has, _, _) in grads.items() if not has]
    if missing:
        raise CheckFailed(f"Encoder(z_dim=64): no gradient reaches {', '.join(missing[:4])}"
                          f"{' ...' if len(missing) > 4 else ''} after a backward pass. Every layer you create "
                          "must be used in forward() (remove unused layers), and nothing may be detached.")
    bad = [name for name, (_, finite, _) in grads.items() if not finite]
    if bad:
        raise CheckFailed(f"Encoder(z_dim=64): the gradients of {', '.join(bad[:4])} are not finite.")
    dead = [name for name, (_, _, size) in grads.items() if size == 0.0]
    if len(dead) == len(grads):
        raise CheckFailed("Encoder(z_dim=64): every gradient is exactly zero; the embedding is disconnected from the "
                          "parameters (detach(), .data or torch.no_grad() inside forward?).")


def _same_embeddings(timed: Any, untimed: Any) -> None:
    """The embeddings a timed round returned are those of the same passes made untimed."""
    what = "Encoder()(X) on 256 images during the timing (eval mode, no gradients)"
    for value in (untimed, timed):
        if not isinstance(value, torch.Tensor):
            raise CheckFailed(f"{what} must return a tensor of embeddings, but it returned {compare.describe(value)}.")
    tol = compare.rtol(untimed.dtype, terms=3 * 32 * 32)
    compare.tensor(timed, untimed, what=what, name="the embeddings", rtol=tol,
                   atol=tol * float(untimed.abs().max()) if untimed.numel() else 0.0,
                   hint="It returned other embeddings than the same passes over the same images made untimed: "
                        "compute the output from the input on every pass.")


@check("Encoder: a forward pass over 256 images fits the CPU time budget", depends=("encoder_shape",), timeout=120,
       weight=2)
def encoder_speed(ctx: Context) -> None:
    X = _images(ctx.generator("speed"), 256)
    repeat = 3
    # the yardstick (see SPEED_FACTOR) is timed in a sandboxed process like the student's, round by round
    with ctx.student() as s, ctx.calibration() as cal:
        for session, repeats in ((s, (1, repeat)), (cal, (1, CALIBRATION_REPEAT))):
            for n in repeats:  # the images, and how many passes, staged once: timed probes decode nothing
                session.stage(f"x{n}", X, n, timeout=ctx.timeout(60))
        # the warm-up, untimed, makes the same passes as a round (the same seed, so the same weights and
        # random draws): what every timed round returns must be what it returned
        untimed = s.probe("metric_learning.encoder_forward_repeat", staged=f"x{repeat}", timeout=ctx.timeout(60),
                          what="Encoder()(X)")
        cal.probe("metric_learning.calibration_forward_repeat", staged="x1", timeout=ctx.timeout(60))
        times: list[float] = []
        refs: list[float] = []
        ratios: list[float] = []  # t / limit in each round: above 1 fails

        def one_round() -> None:
            before = s.cpu_time()
            timed = s.probe("metric_learning.encoder_forward_repeat", staged=f"x{repeat}", timeout=ctx.timeout(60),
                            what="Encoder()(X)")
            times.append((s.cpu_time() - before) / repeat)
            _same_embeddings(timed, untimed)
            refs.append(kits.yardstick_seconds(s, cal, "metric_learning.calibration_forward_repeat", CALIBRATION_REPEAT,
                                               staged=f"x{CALIBRATION_REPEAT}", timeout=ctx.timeout(60)))
            ratios.append(times[-1] / (SPEED_FACTOR * refs[-1]))

        kits.in_rounds(one_round, least=SPEED_MIN_ROUNDS, most=SPEED_MAX_ROUNDS,
                       unsettled=lambda: 1 / SPEED_BAND <= statistics.median(ratios) <= SPEED_BAND
                       and ctx.remaining() > 20)
    t, t_ref = statistics.median(times), statistics.median(refs)
    limit = SPEED_FACTOR * t_ref
    ctx.note(f"Forward pass over 256 images (CPU time, one thread, median of {len(times)} rounds): {t * 1e3:.1f} ms; "
             f"the grader's yardstick encoder {t_ref * 1e3:.1f} ms; limit {limit * 1e3:.0f} ms.")
    if statistics.median(ratios) > 1.0:
        raise CheckFailed(f"Encoder()(X) takes {t * 1e3:.0f} ms of CPU time for 256 images, over the budget of "
                          f"{limit * 1e3:.0f} ms ({SPEED_FACTOR:g}x the {t_ref * 1e3:.1f} ms of a plain "
                          "32/64/64-channel encoder with max pooling, timed the same way). The grader trains your "
                          "encoder for hundreds of steps: downsample early (stride 2 or pooling) and keep "
                          "convolutions at full 32x32 resolution few and narrow.")


# ----------------------------------------------------------------------------- training step


def _step_expected(X: torch.Tensor, W: torch.Tensor, trip: tuple[Any, ...], *, margin: float = 1.0, p: float = 2.0,
                   reduction: str = "mean", swap_pn: bool = False) -> tuple[float, torch.Tensor]:
    """Loss and gradient wrt W of the triplet margin loss for the linear encoder Z = X.flatten(1) @ W."""
    Wp = W.detach().clone().requires_grad_(True)
    Z = X.flatten(1) @ Wp
    a, pos, neg = trip
    if swap_pn:
        pos, neg = neg, pos
    loss = nn.TripletMarginLoss(margin=margin, p=p, reduction=reduction)(Z[a], Z[pos], Z[neg])
    loss.backward()
    assert Wp.grad is not None  # set by the backward pass: the loss depends on Wp
    return float(loss.detach()), Wp.grad.detach()


def _loss_hint(got: float, X: torch.Tensor, W: torch.Tensor, trip: tuple[Any, ...], tol: float) -> str:
    variants: list[tuple[dict[str, Any], str]] = [
        (dict(margin=0.5), "The loss matches margin=0.5; use nn.TripletMarginLoss(margin=1.0, p=2)."),
        (dict(margin=2.0), "The loss matches margin=2.0; use nn.TripletMarginLoss(margin=1.0, p=2)."),
        (dict(margin=0.2), "The loss matches margin=0.2; use nn.TripletMarginLoss(margin=1.0, p=2)."),
        (dict(p=1.0), "The loss matches p=1 (L1 distance); use p=2 (Euclidean)."),
        (dict(swap_pn=True), "The loss matches positives and negatives swapped: the call is "
                             "loss_fn(Z[anchor], Z[positive], Z[negative])."),
        (dict(reduction="sum"), "The loss is summed over the triplets; TripletMarginLoss averages them (the default "
                                "reduction='mean')."),
    ]
    for kwargs, text in variants:
        value, _ = _step_expected(X, W, trip, **kwargs)
        if abs(got - value) <= tol * max(1.0, abs(value)):
            return text
    return ("Compute nn.TripletMarginLoss(margin=1.0, p=2)(Z[a], Z[p], Z[n]) with Z = encoder(X_batch) and the "
            "triplets of exactly one call sample_triplets(y_batch, generator).")


@check("triplet_train_step: TripletMarginLoss(margin=1, p=2), one optimizer step, gradients cleared",
       depends=("sampler_contract", "sampler_seeded"), timeout=90, weight=4)
def train_step(ctx: Context) -> None:
    gen = ctx.generator("step")
    X = torch.randn(16, 3, 4, 4, generator=gen)
    y = _shuffled(gen, [0] * 6 + [1] * 5 + [2] * 4 + [3])
    W0 = torch.randn(48, 8, generator=gen) * 0.2
    lr = 0.05
    seeds = [int(v) for v in torch.randint(0, 2**31 - 1, (3,), generator=gen)]
    with ctx.student() as s:
        out = s.probe("metric_learning.train_steps", X, y, W0, lr, seeds, torch.zeros(8, dtype=torch.int64),
                      timeout=ctx.timeout(60), what="triplet_train_step()")
    what = "triplet_train_step(encoder, SGD(lr=0.05), X_batch (16, 3, 4, 4), y_batch, generator)"
    W = W0.clone()
    prev_grad = None
    for i, step in enumerate(out["steps"]):
        trip = validate_triplets(step["triplets"], y, "sample_triplets(y_batch, generator)")
        where = f"{what}, step {i + 1} (a linear encoder Z = X.flatten(1) @ W)"
        if step["loss"] is None:
            raise CheckFailed(f"{where} returned None, but the batch has usable anchors; return loss.item().")
        loss = compare.scalar(step["loss"], f"{where}: the returned loss")
        modes = step["modes"]
        if not modes:
            raise CheckFailed(f"{where} never called the encoder.")
        if not all(modes):
            raise CheckFailed(f"{where}: the encoder was in eval mode during the forward pass. Call encoder.train() "
                              "at the start of the step (layers such as BatchNorm behave differently in eval mode).")
        exp_loss, grad = _step_expected(X, W, trip)
        # float32 here and in the student's step: embeddings over 48 inputs, distances over 8 dimensions,
        # a mean over the triplets, the update
        tol = compare.rtol(torch.float32, terms=2 * (X[0].numel() + W.shape[1] + len(trip[0]) + 2))
        atol = tol * float(W.abs().max())
        if compare.off(loss, exp_loss, tol * max(1.0, abs(exp_loss))):
            raise CheckFailed(f"{where}: the loss is {loss:.6g}, expected {exp_loss:.6g}. {_loss_hint(loss, X, W, trip, tol)}")
        W_new = compare.structure(step["W"], W, what=where, name="the encoder's weight after the step")
        expected = W - lr * grad
        if not torch.allclose(W_new, expected, rtol=tol, atol=atol):
            if torch.equal(W_new, W):
                hint = ("The weights did not change: call optimizer.zero_grad(), then loss.backward(), then "
                        "optimizer.step() (in this order).")
            elif prev_grad is not None and torch.allclose(W_new, W - lr * (grad + prev_grad), rtol=tol, atol=atol):
                hint = ("The update adds the previous step's gradient too: call optimizer.zero_grad() before "
                        "loss.backward() on every step.")
            elif torch.allclose(W_new, W + lr * grad, rtol=tol, atol=atol):
                hint = "The weights moved up the gradient: minimise the loss (do not negate it)."
            else:
                hint = "Exactly one optimizer step on the gradient of this batch's loss is expected."
            compare.tensor(W_new, expected, what=where, name="the encoder's weight after the step", rtol=tol,
                           atol=atol, hint=hint)
        W, prev_grad = expected, grad
    single = out["single"]
    if isinstance(single.get("error"), str):
        raise CheckFailed(f"triplet_train_step on a batch whose labels are all equal raised {single['error']}. "
                          "With no usable anchor, return None and leave the encoder unchanged.")
    W_after = single["W"]
    if not isinstance(W_after, torch.Tensor) or not torch.equal(W_after, single["W_before"]):
        raise CheckFailed("triplet_train_step on a batch whose labels are all equal changed the encoder's weights "
                          "(or made them NaN). With no usable anchor, return None before computing a loss.")


# ----------------------------------------------------------------------------- linear probe


@check("fit_linear_probe: a trained nn.Linear(z_dim, num_classes) that classifies separable embeddings",
       timeout=90, weight=3)
def linear_probe(ctx: Context) -> None:
    gen = ctx.generator("probe")
    C, d, n, nq = 4, 8, 200, 400
    means = torch.randn(C, d, generator=gen) * 2.5
    y = torch.arange(n) % C
    yq = torch.arange(nq) % C
    Z = means[y] + torch.randn(n, d, generator=gen)
    Zq = means[yq] + torch.randn(nq, d, generator=gen)
    what = f"fit_linear_probe(Z ({n}, {d}), y, num_classes={C})"
    with ctx.student() as s, wire.WatchedInputs(Z=Z, y=y) as watched:
        out = s.probe("metric_learning.linear_probe", *watched.args(), C, Zq, 0, timeout=ctx.timeout(60),
                      what="fit_linear_probe()")
        written = watched.written()
    if not out["module"]:
        raise CheckFailed(f"{what} must return the trained nn.Linear, got {compare.describe(out['returned'])}.")
    if written:
        inputs = " and ".join({"Z": "the embeddings Z", "y": "the labels y"}[k] for k in written)
        raise CheckFailed(f"{what} modified {inputs} in place. Treat Z and y as fixed inputs: compute on new "
                          "tensors (Z - m, not Z -= m; note that Z.detach() shares Z's memory).")
    state = out["state"]
    weights = [v for v in state.values() if isinstance(v, torch.Tensor) and v.dim() == 2]
    if not weights or tuple(weights[0].shape) != (C, d):
        shapes = [tuple(v.shape) for v in state.values() if isinstance(v, torch.Tensor)]
        raise CheckFailed(f"{what}: expected an nn.Linear({d}, {C}) (weight of shape ({C}, {d})), got a "
                          f"{out['type']} with parameter shapes {shapes}. Use z_dim = Z.shape[1] inputs and "
                          "num_classes outputs.")
    returned = compare.structure(out["logits"], torch.zeros(nq, C), what=what + ", then probe(Z_query)",
                                 name="the logits")
    # scored from the probe's own parameters, computed here: logits the returned module makes up some
    # other way (a nearest-mean rule beside untrained weights) earn nothing
    W = weights[0].double()
    biases = [v for v in state.values() if isinstance(v, torch.Tensor) and tuple(v.shape) == (C,)]
    logits = Zq.double() @ W.T + (biases[0].double() if biases else 0.0)
    tol = compare.rtol(weights[0].dtype, returned.dtype, terms=d + 1)
    compare.tensor(returned.double(), logits, what=what + ", then probe(Z_query)", name="the logits", rtol=tol,
                   atol=tol * max(1.0, float(logits.abs().max())), check_dtype=False,
                   hint="The logits must be Z_query @ weight.T + bias of the returned nn.Linear's own parameters.")
    acc = float((logits.argmax(1) == yq).double().mean())
    # A nearest-mean rule on the true cluster centres bounds what a linear probe can reach here; the
    # reference is not run in the grader's process (torch.optim alone adds 150 MB to its memory).
    centre_acc = float((torch.cdist(Zq, means).argmin(1) == yq).double().mean())
    ctx.note(f"Linear probe accuracy on held-out Gaussian clusters: {acc:.3f} (nearest true centre: "
             f"{centre_acc:.3f}).")
    if acc < PROBE_FLOOR:
        hint = ("That is chance level: the probe is not trained. Run num_steps full-batch Adam steps on the "
                "cross-entropy loss (zero_grad, backward, step), optimising the probe's own parameters."
                if acc < 1.5 / C else
                "Train with full-batch Adam (lr, weight_decay) on the cross-entropy of probe(Z) and y for num_steps.")
        raise CheckFailed(f"{what}: the returned probe classifies {acc:.1%} of well-separated held-out points "
                          f"correctly (at least {PROBE_FLOOR:.0%} expected; the true cluster centres give {centre_acc:.1%}). {hint}")


# ----------------------------------------------------------------------------- training on CIFAR-10


def knn_accuracy(Z_train: torch.Tensor, y_train: torch.Tensor, Z_query: torch.Tensor, y_query: torch.Tensor,
                 k: int = KNN_K) -> float:
    """Accuracy of a k-NN classifier (Euclidean; votes weighted 1, ties to the nearer neighbours)."""
    Zt, Zq = Z_train.double(), Z_query.double()
    d = torch.cdist(Zq, Zt)
    nearest = d.topk(k, dim=1, largest=False).indices                     # (Q, k), nearest first
    tie = 1e-6 * torch.arange(k, 0, -1, dtype=torch.float64)               # favours nearer neighbours
    votes = torch.zeros(Zq.shape[0], int(y_train.max()) + 1, dtype=torch.float64)
    votes.scatter_add_(1, y_train[nearest], 1.0 + tie.expand_as(nearest))
    return float((votes.argmax(1) == y_query).double().mean())


def training_inputs(raw: RawSplits, gen: torch.Generator) -> dict[str, Any]:
    """The seeded training subset and held-out images, preprocessed like the notebook (mean removed)."""
    from grader import data

    mean = data.cifar10_channel_mean(raw).float().view(1, 3, 1, 1)
    n_sub = min(TRAINING["subset"], len(raw.train_labels))
    n_held = min(TRAINING["held_out"].get(raw.profile, 1000), len(raw.test_labels))
    sub = torch.randperm(len(raw.train_labels), generator=gen)[:n_sub].sort().values
    held = torch.randperm(len(raw.test_labels), generator=gen)[:n_held].sort().values
    X = raw.train_images[sub].float().div_(255).sub_(mean)
    Xq = raw.test_images[held].float().div_(255).sub_(mean)
    return {"X": X, "y": raw.train_labels[sub].clone(), "Xq": Xq, "yq": raw.test_labels[held].clone(),
            "seed": int(torch.randint(0, 2**31 - 1, (1,), generator=gen))}


def pixel_baseline(X: torch.Tensor, y: torch.Tensor, Xq: torch.Tensor, yq: torch.Tensor) -> float:
    """The k-NN accuracy of the raw (preprocessed) pixels: what an encoder must beat to have learned
    anything. Computed by the grader, never from the student's code (whose untrained state a student
    controls)."""
    return knn_accuracy(X.flatten(1), y, Xq.flatten(1), yq)


def _embeddings(value: Any, n: int, what: str) -> torch.Tensor:
    z = compare.structure(value, torch.zeros(n, TRAINING["z_dim"]), what=what, name="the embeddings",
                          hint="Training may have diverged (NaN) or the encoder returns another shape.")
    return z.float()


@check("Triplet training with your sampler and encoder improves the k-NN accuracy on held-out CIFAR-10 images",
       depends=("batch_contract", "sampler_contract", "encoder_shape", "encoder_speed", "train_step"), timeout=240)
@partial_credit(8)  # type: ignore[untyped-decorator]  # gradescope_utils ships no types
@leaderboard("probe accuracy")  # type: ignore[untyped-decorator]
def triplet_training(ctx: Context, set_score: Any = None, set_leaderboard_value: Any = None) -> None:
    raw = ctx.data("cifar10")
    inputs = training_inputs(raw, ctx.generator("training"))
    X, y, Xq, yq = inputs["X"], inputs["y"], inputs["Xq"], inputs["yq"]
    session, on = ctx.student_on_accelerator(instead="the encoder trained on the CPU")
    device = on.type
    with session as s:
        out = s.probe("metric_learning.train_and_embed", X, y, Xq, TRAINING["steps"], TRAINING["batch_size"],
                      TRAINING["lr"], inputs["seed"], device, timeout=ctx.timeout(200),
                      what="training Encoder() with get_data_batch and triplet_train_step")
    # the baseline is the grader's own: k-NN on the same images' pixels, which the student's code cannot touch
    acc_pixels = pixel_baseline(X, y, Xq, yq)
    del X, Xq
    what_b = "Encoder(z_dim=64) before training"
    what_a = f"Encoder(z_dim=64) after {TRAINING['steps']} triplet steps"
    before = compare.unpack(out["before"], 2, what_b, ("train embeddings", "held-out embeddings"))
    after = compare.unpack(out["after"], 2, what_a, ("train embeddings", "held-out embeddings"))
    n, nq = len(y), len(yq)
    Zb, Zqb = _embeddings(before[0], n, what_b), _embeddings(before[1], nq, what_b + " (held-out images)")
    Za, Zqa = _embeddings(after[0], n, what_a), _embeddings(after[1], nq, what_a + " (held-out images)")
    acc_before = knn_accuracy(Zb, y, Zqb, yq)
    acc_after = knn_accuracy(Za, y, Zqa, yq)
    floor = KNN_FLOOR[raw.profile]
    history = out.get("history")
    losses = ""
    if isinstance(history, list) and history and all(isinstance(v, float) for v in history):
        k = min(20, len(history))
        losses = f" Triplet loss: first {k} steps {sum(history[:k]) / k:.3f}, last {k} {sum(history[-k:]) / k:.3f}."
    ran_on = out.get("device") if out.get("device") in ("cpu", "cuda") else device
    if out.get("fallback") and isinstance(out["fallback"], str):
        ran_on += f" (the {device} device was not usable in the sandbox)"
    set_leaderboard_value(round(100 * acc_after, 2))
    ctx.note(f"{KNN_K}-NN accuracy on {nq} held-out CIFAR-10 test images ({raw.profile} data, {n} training images, "
             f"{TRAINING['steps']} steps of batch {TRAINING['batch_size']}, Adam lr {TRAINING['lr']:g}, on "
             f"{ran_on}): trained {acc_after:.3f} (untrained {acc_before:.3f}); k-NN on the raw pixels "
             f"{acc_pixels:.3f}; required: +{KNN_MARGIN:.2f} over the raw pixels and at least {floor:.2f}.{losses}")
    improved = acc_after >= acc_pixels + KNN_MARGIN
    reached = acc_after >= floor
    set_score(4.0 * improved + 4.0 * reached)
    if not (improved and reached):
        problems = []
        if not improved:
            problems.append(f"beats k-NN on the raw pixels of the same images ({acc_pixels:.3f}) by only "
                            f"{acc_after - acc_pixels:+.3f} (at least +{KNN_MARGIN:.2f} needed, 4 points)")
        if not reached:
            problems.append(f"reaches {acc_after:.3f}, below the floor of {floor:.2f} (4 points)")
        raise CheckFailed("Training your encoder with your sampler and training step " + " and ".join(problems) +
                          ". Check that positives share the anchor's class and negatives do not, that the step "
                          "minimises TripletMarginLoss(margin=1, p=2) on encoder(X_batch), and that the encoder can "
                          "learn (BatchNorm, ReLU, a stride-2 downsampling path and a final Linear layer work well).")
