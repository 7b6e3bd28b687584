# Grading from a git checkout: tries to read copies of the reference and the hidden checks beside
# the grader (the git history, the tests and their corpus of correct code, build folders,
# egg-info, cached reference outputs) and reports every one it could read.
import glob
import os

_reference_svm_loss_naive = svm_loss_naive
_PATHS = @@PATHS@@


def _snoop():
    found = []
    candidates = list(_PATHS) + glob.glob(os.path.join("@@REPO@@", "*", "**", "*.py"), recursive=True)
    for path in candidates:
        if ("/grader/" in path and "/grader/checks/" not in path) or "/assignment/" in path:
            continue  # the package the sandbox imports and the student stubs are public
        try:
            with open(path, "rb") as f:
                f.read(100)
            found.append(path)
        except OSError:
            pass
    for path in found:
        print("LEAKED", path)
    print("snooping done")


def svm_loss_naive(W, X, y, reg):
    _snoop()
    return _reference_svm_loss_naive(W, X, y, reg)
