"""Check kits: the kinds of judgement several parts make, one implementation and one wording each.

* :func:`accuracy_floor` - a trained model's test accuracy against a floor calibrated per data
  profile (the note every run gets, and the failure).
* ``static.inspected`` - the student's module parsed for a static check (the wording when it
  cannot be).
* ``Context.per_item`` - a check that judges several functions, each for its share.
* ``Context.generator`` / ``Context.part_generator`` - a seeded generator per check (or per part) and purpose.
* ``compare.rtol`` and friends - comparisons whose tolerances come from dtypes and sizes.
* :func:`worst_cell` - whether random draws are uniform: counts tested cell by cell against their
  binomial law (the figures a student reads when they are not).
* :func:`yardstick_seconds` and :func:`in_rounds` - timing the student's code against the grader's
  yardstick in a sandboxed process of its own, round by round, until the decision is clear.
* ``static.require_own_code`` - a function written without the library calls it is meant to replace
  (the listing a student reads when it is not).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch

from grader.errors import CheckFailed

if TYPE_CHECKING:
    from grader.runner import Context
    from grader.sandbox import StudentSession


def accuracy_floor(ctx: Context, subject: str, accuracy: float, count: int, *, dataset: str, profile: str,
                   floor: float, advice: str) -> None:
    """Note ``subject``'s test ``accuracy`` on ``count`` images of ``dataset`` (``profile`` data) beside
    its ``floor``; below the floor, fail with the figures and ``advice`` (what to look at)."""
    ctx.note(f"Test accuracy of {subject}: {accuracy:.4f} on {count} {dataset} test images ({profile} data); "
             f"floor {floor:.2f}.")
    if accuracy < floor:
        raise CheckFailed(f"{subject} reaches {accuracy:.4f} test accuracy on {count} {dataset} test images, below "
                          f"the floor of {floor:.2f} for the {profile} data. {advice}")


# ----------------------------------------------------------------------------- uniformity
#
# A count table is tested cell by cell with the exact Chernoff bound of a binomial tail,
# P(X >= k) <= exp(-n KL(k/n || p)) (and the mirror bound below the mean), combined over every cell
# (two tails each) with a union bound: the draws are called skewed when some cell's bound is below
# FALSE_ALARM / (2 * cells), so a correct uniform sampler is called skewed with probability below
# FALSE_ALARM whatever the hidden seed. A cell's count must be binomial: the number of draws (of
# ``trials``) that land in it, each independently with its probability.
FALSE_ALARM = 1e-6


def _kl(q: float, p: float) -> float:
    out = 0.0
    if q > 0:
        out += q * math.log(q / p)
    if q < 1:
        out += (1 - q) * math.log((1 - q) / (1 - p))
    return out


def binomial_tail_bound(k: int, n: int, p: float) -> float:
    """Chernoff bound of the tail of Binomial(n, p) beyond k, on k's side of the mean (1 at the mean)."""
    q = k / n if n else p
    if (q >= p and k <= n * p) or n == 0:
        return 1.0
    return math.exp(-n * _kl(q, p))


@dataclass(frozen=True)
class Cell:
    """The least likely cell of a count table: its flat index, count and expected count, its tail
    bound, and how many cells the union bound covers."""
    index: int
    count: int
    expected: float
    bound: float
    cells: int

    @property
    def skewed(self) -> bool:
        """True when this count is too unlikely for uniform draws (false alarm below FALSE_ALARM)."""
        return self.bound * 2 * self.cells < FALSE_ALARM

    def figures(self) -> str:
        """The count beside its expectation, in the words every uniformity check uses."""
        alarm = f"{FALSE_ALARM:.0e}".replace("e-0", "e-")
        return f"{self.count} times where a uniform choice gives about {self.expected:.0f} (p < {alarm})"


def worst_cell(counts: torch.Tensor, probs: torch.Tensor, trials: int, *, cells: int | None = None) -> Cell:
    """The cell of ``counts`` (flat, one per cell, each Binomial(``trials``, its entry of ``probs``)
    under uniform draws) with the smallest tail bound; the union bound covers ``cells`` cells
    (default: these), more when several tables are tested together."""
    index, bound = 0, 1.0
    ks, ps = counts.flatten().tolist(), probs.flatten().tolist()
    for i, (k, p) in enumerate(zip(ks, ps)):
        b = binomial_tail_bound(int(k), trials, float(p))
        if b < bound:
            index, bound = i, b
    return Cell(index, int(ks[index]) if ks else 0, trials * float(ps[index]) if ps else 0.0, bound,
                len(ks) if cells is None else cells)


# ----------------------------------------------------------------------------- timing against a yardstick


def yardstick_seconds(student: StudentSession, yardstick: StudentSession, probe: str, passes: int,
                      **arguments: Any) -> float:
    """CPU seconds per pass of the grader's yardstick ``probe`` (``passes`` passes, with ``arguments``)
    in its own sandboxed session, while the student's session is paused so that nothing of the
    student's runs beside it. Measured round by round with the student's code, on the same machine
    under the same load, it is the unit a time limit is stated in."""
    with student.paused():
        before = yardstick.cpu_time()
        yardstick.probe(probe, **arguments)
        return (yardstick.cpu_time() - before) / passes


def in_rounds(measure: Callable[[], None], *, least: int, most: int, unsettled: Callable[[], bool]) -> int:
    """Run ``measure`` (one round) ``least`` times, then again while ``unsettled()`` (a median within a
    band of its limit), up to ``most`` rounds in all, so that a measurement near a limit does not flip
    between runs; returns the number of rounds."""
    rounds = 0
    while rounds < least or (rounds < most and unsettled()):
        measure()
        rounds += 1
    return rounds
