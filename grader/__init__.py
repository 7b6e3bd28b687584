"""Assignment scaffold and auto-grader for machine-learning courses.

The public surface is small: the check declaration API used by check modules
(``grader.registry.check``; a check takes a ``grader.Context``), the exception hierarchy,
and the command line (``python -m grader --help``).
"""
from grader.errors import (
    CheckFailed,
    GraderError,
    StudentCodeError,
    StudentCrash,
    StudentException,
    StudentImportError,
    StudentTimeout,
    SubmissionError,
    DataNotFoundError,
    SandboxUnavailable,
)

__all__ = [
    "CheckFailed",
    "GraderError",
    "StudentCodeError",
    "StudentCrash",
    "StudentException",
    "StudentImportError",
    "StudentTimeout",
    "SubmissionError",
    "DataNotFoundError",
    "SandboxUnavailable",
    "Context",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``grader.Context``, the type of a check's argument, imported on first use (it brings torch)."""
    if name == "Context":
        from grader.runner import Context

        return Context
    raise AttributeError(f"module 'grader' has no attribute {name!r}")
