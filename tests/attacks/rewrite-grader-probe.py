# Rewrites the grader's probe inside its own process so that the probe reports whatever the
# student likes: inputs "unchanged" and a loss of zero. Facts a probe gathers in the child
# can be forged this way; values are still compared in the grader against the reference.
import grader.probes


def _forged_loss_call(module, func, W, X, y, reg):
    return {"out": (torch.zeros((), dtype=W.dtype), torch.zeros_like(W)), "W": W, "X": X, "y": y}


grader.probes.load_all()
grader.probes._PROBES["linear_classifier.loss_call"] = _forged_loss_call
