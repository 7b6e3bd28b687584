# Looks for the hidden checks, the reference solution and the submission metadata, and
# reports anything it could read (the graded function itself is the reference).
import glob
import os

_reference_svm_loss_naive = svm_loss_naive
_TARGETS = ["@@CHECKS@@", "@@SOLUTION@@", "@@METADATA@@", "/autograder/submission_metadata.json",
            "/autograder/source/solutions/linear_classifier.py",
            "/autograder/source/grader/checks/linear_classifier.py"]


def _snoop():
    found = []
    for path in _TARGETS + glob.glob("/tmp/grader-*/**/*.py", recursive=True):
        try:
            with open(path, "rb") as f:
                data = f.read(200)
            if b"BEGIN SOLUTION" in data or b"hidden" in data or b"email" in data or path in _TARGETS:
                found.append(path)
        except OSError:
            pass
    for folder in ("@@CHECKS_DIR@@", "@@SOLUTIONS_DIR@@"):
        try:
            found.append(f"{folder} lists {os.listdir(folder)}")
        except OSError:
            pass
    for path in found:
        print("LEAKED", path)
    print("snooping done")


def svm_loss_naive(W, X, y, reg):
    _snoop()
    return _reference_svm_loss_naive(W, X, y, reg)
