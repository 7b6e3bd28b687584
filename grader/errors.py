"""Exceptions of the grader, drawn in one place.

::

    GraderError                  base of everything the grader raises on purpose
    +-- SubmissionError          files missing, misnamed, malformed (student's fault)
    +-- DataNotFoundError        no dataset where the grader looked (set-up problem)
    +-- SandboxUnavailable       student code cannot be isolated safely here
    +-- CheckFailed              a check's verdict: the submission is wrong (student's fault)
    |   +-- PartlyFailed         some of the functions a check judges are wrong: partial credit
    +-- CheckSkipped             nothing a check judges could be judged (prerequisites failed)
    +-- StudentCodeError         student code misbehaved inside the sandbox
        +-- StudentImportError   the module could not be imported
        +-- StudentException     a call raised an exception
        +-- StudentTimeout       a call ran past its time limit
        +-- StudentCrash         the process died (exit(), signal, memory, output limits)

A check that raises ``CheckFailed`` or a ``StudentCodeError`` is *failed*; any other
exception out of a check is an *error* (the grader's fault, shown to staff only).
"""
from __future__ import annotations


class GraderError(Exception):
    """Base class of every exception the grader raises on purpose."""


class SubmissionError(GraderError):
    """The submission's files are missing, misnamed or malformed."""


class DataNotFoundError(GraderError):
    """A dataset was not found in any of the searched locations."""


class SandboxUnavailable(GraderError):
    """Student code cannot be run safely with the current interpreter or privileges."""


class CheckFailed(GraderError):
    """The verdict of a check: the submission is wrong. The message is shown to the student."""


class PartlyFailed(CheckFailed):
    """A check that judges several functions (or cases) one by one found some of them wrong.

    ``fraction`` of the check's weight is earned; ``items`` maps each judged item to
    "passed", "failed" or "skipped" (see ``grader.runner.Context.per_item``).
    """

    def __init__(self, message: str, *, fraction: float, items: dict[str, str]) -> None:
        super().__init__(message)
        self.fraction = fraction
        self.items = items


class CheckSkipped(GraderError):
    """No item of a check could be judged because the checks it builds on failed ("fix X first")."""

    def __init__(self, message: str, *, items: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.items = items or {}


class StudentCodeError(GraderError):
    """Student code misbehaved inside the sandbox. The message is shown to the student."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class StudentImportError(StudentCodeError):
    """The student's module could not be imported."""


class StudentException(StudentCodeError):
    """A call into student code raised an exception."""

    def __init__(self, message: str, *, exc_type: str = "", traceback: str = "", output: str = "") -> None:
        super().__init__(message, output=output)
        self.exc_type = exc_type
        self.traceback = traceback


class StudentTimeout(StudentCodeError):
    """A call into student code ran past its time limit."""


class StudentCrash(StudentCodeError):
    """The process running student code died (exit(), a signal, a resource limit)."""
