"""Assignment scaffold and auto-grader for machine-learning courses.

The public surface is small: the check declaration API used by check modules,
the exception hierarchy, and the command line (``python -m grader --help``).
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
]
__version__ = "0.1.0"
