"""Where the grader's own files are, and the fixed choices several modules share.

One module decides, so that the package, its tools and the checks agree: the root of the
checkout (or of the unpacked autograder), the reference (``solutions/``), the student
version (``assignment/``), the hidden checks, and the devices a run may compute on. It imports
nothing from the grader, so every module may import it.
"""
from __future__ import annotations

import os
from pathlib import Path

#: The folder holding the ``grader`` package: a checkout, ``/autograder/source``, or site-packages.
ROOT: Path = Path(__file__).resolve().parents[1]
#: The package itself.
PACKAGE: Path = Path(__file__).resolve().parent
#: The hidden checks (absent from the students' bundle).
HIDDEN_CHECKS: Path = PACKAGE / "checks"
#: The student version, generated from the reference by ``python -m grader release``.
ASSIGNMENT: Path = ROOT / "assignment"
#: The choices of ``--device`` (see ``grader.runner.grading_device``).
DEVICES: tuple[str, ...] = ("auto", "cpu", "cuda")


def solutions_dir() -> Path:
    """The reference solution's folder: ``$GRADER_SOLUTIONS``, else ``solutions/`` beside the package,
    else ``solutions/`` in the working folder (the autograder runs from its source folder)."""
    env = os.environ.get("GRADER_SOLUTIONS")
    if env:
        return Path(env)
    for candidate in (ROOT / "solutions", Path.cwd() / "solutions"):
        if candidate.is_dir():
            return candidate
    return ROOT / "solutions"
