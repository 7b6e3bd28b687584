"""Check kits: the kinds of judgement several parts make, one implementation and one wording each.

* :func:`accuracy_floor` - a trained model's test accuracy against a floor calibrated per data
  profile (the note every run gets, and the failure).
* ``static.inspected`` - the student's module parsed for a static check (the wording when it
  cannot be).
* ``Context.per_item`` - a check that judges several functions, each for its share.
* ``Context.generator`` / ``Context.part_generator`` - a seeded generator per check (or per part) and purpose.
* ``compare.rtol`` and friends - comparisons whose tolerances come from dtypes and sizes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from grader.errors import CheckFailed

if TYPE_CHECKING:
    from grader.runner import Context


def accuracy_floor(ctx: Context, subject: str, accuracy: float, count: int, *, dataset: str, profile: str,
                   floor: float, advice: str) -> None:
    """Note ``subject``'s test ``accuracy`` on ``count`` images of ``dataset`` (``profile`` data) beside
    its ``floor``; below the floor, fail with the figures and ``advice`` (what to look at)."""
    ctx.note(f"Test accuracy of {subject}: {accuracy:.4f} on {count} {dataset} test images ({profile} data); "
             f"floor {floor:.2f}.")
    if accuracy < floor:
        raise CheckFailed(f"{subject} reaches {accuracy:.4f} test accuracy on {count} {dataset} test images, below "
                          f"the floor of {floor:.2f} for the {profile} data. {advice}")
