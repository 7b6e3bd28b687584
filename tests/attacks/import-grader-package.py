# Imports the grader inside the sandbox and tries to use it: load the reference solution,
# import the hidden checks, write a results file with the grader's own writer.
_reference_svm_loss_naive = svm_loss_naive


def _abuse():
    attempts = {
        "hidden checks": "import grader.checks.linear_classifier as m; m.PART",
        "reference": "import grader.runner as r; r.load_reference('linear_classifier').svm_loss_naive",
        "results writer": ("import grader.results as r; r.write_json({'score': 1000, 'tests': []}, "
                           "'@@RESULTS@@')"),
    }
    for label, code in attempts.items():
        try:
            exec(code, {})
            print("GRADER ABUSED:", label)
        except BaseException as exc:  # noqa: BLE001
            print("refused:", label, type(exc).__name__)


def svm_loss_naive(W, X, y, reg):
    _abuse()
    return _reference_svm_loss_naive(W, X, y, reg)
