"""Part 4, public checks: the two losses on inputs small enough to work out by hand.

Students run these with ``python -m grader check``. Expectations follow from the
definitions: the mean hinge margin plus lam * sum(W * W), and log C for the cross-entropy
of all-zero logits.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import math

import torch

from grader import compare
from grader.registry import Part, check

if TYPE_CHECKING:
    from grader.runner import Context

PART = Part("binary_svm", "Part 4: binary SVM, one-vs-all and softmax regression on CIFAR-10",
            files=("binary_svm.py",), datasets=("cifar10",))


@check("hinge_loss: a small example worked out by hand (public)", timeout=60, weight=1)
def public_hinge_by_hand(ctx: Context) -> None:
    scores = torch.tensor([2.0, 0.5, -1.0, 0.25], dtype=torch.float64)
    labels = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    W = torch.tensor([1.0, 2.0], dtype=torch.float64)
    # margins 1 - y*s: -1 -> 0, 1.5, 0 -> 0, 0.75; mean 0.5625; penalty 0.1 * 5 = 0.5
    with ctx.student() as s:
        out = s.call("hinge_loss", scores, labels, W, 0.1, timeout=ctx.timeout(30))
    value = compare.scalar(out, "hinge_loss(scores, labels, W, lam=0.1)")
    compare.close(value, 1.0625, what="hinge_loss(scores=[2, 0.5, -1, 0.25], labels=[1, -1, -1, 1], W=[1, 2], "
                  "lam=0.1)", name="the loss", rtol=compare.rtol(torch.float64, terms=4 + 2 + 2), hint="Expected mean(max(0, 1 - y * s)) = 0.5625 plus "
                  "lam * sum(W * W) = 0.5.")


@check("softmax_cross_entropy: log C for all-zero logits, a small example (public)", timeout=60, weight=1)
def public_cross_entropy_by_hand(ctx: Context) -> None:
    with ctx.student() as s:
        zeros = s.call("softmax_cross_entropy", torch.zeros(4, 10, dtype=torch.float64), torch.tensor([0, 3, 9, 2]),
                       timeout=ctx.timeout(30))
        logits = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64)
        small = s.call("softmax_cross_entropy", logits, torch.tensor([1]), timeout=ctx.timeout(30))
    value = compare.scalar(zeros, "softmax_cross_entropy(zeros(4, 10), labels)")
    # a log-sum-exp over C logits per row and a mean over the rows, in float64
    compare.close(value, math.log(10), what="softmax_cross_entropy(zeros(4, 10), labels)", name="the loss",
                  rtol=compare.rtol(torch.float64, terms=4 + 2 * 10 + 2), hint="Every class has probability 1/10, so the loss is -log(1/10) = log 10.")
    value = compare.scalar(small, "softmax_cross_entropy([[0, log 3]], [1])")
    compare.close(value, -math.log(0.75), what="softmax_cross_entropy([[0, log 3]], labels=[1])", name="the loss",
                  rtol=compare.rtol(torch.float64, terms=1 + 2 * 2 + 2), hint="softmax gives [1/4, 3/4]; the loss is -log(3/4).")
