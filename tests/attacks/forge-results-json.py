# Tries to write results.json itself, at import and inside a graded function: Gradescope's
# path, the path this run was given (the test fills it in), and by replacing the file.
# The graded function itself is the reference, so only the forgery is under test.
import json
import os

_FORGED = {"score": 1000, "output": "FORGED", "tests": [{"name": "FORGED", "score": 1000, "max_score": 1,
                                                         "status": "passed"}]}
_TARGETS = ["/autograder/results/results.json", "@@RESULTS@@"]
_reference_svm_loss_naive = svm_loss_naive


def _forge():
    for path in _TARGETS:
        for how in ("write", "replace", "unlink"):
            try:
                if how == "write":
                    with open(path, "w") as f:
                        json.dump(_FORGED, f)
                elif how == "replace":
                    tmp = os.path.join(os.path.dirname(path), "forged.json")
                    with open(tmp, "w") as f:
                        json.dump(_FORGED, f)
                    os.replace(tmp, path)
                else:
                    os.unlink(path)
                print(f"FORGERY SUCCEEDED: {how} {path}")
            except OSError as exc:
                print(f"forgery refused: {how} {path}: {type(exc).__name__}")


_forge()


def svm_loss_naive(W, X, y, reg):
    _forge()
    return _reference_svm_loss_naive(W, X, y, reg)
