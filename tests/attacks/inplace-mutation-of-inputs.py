# Correct values, but the inputs are modified in place (X scaled, then the answer computed
# from a copy of the original).
_reference_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    out = _reference_svm_loss_naive(W, X.clone(), y, reg)
    X.mul_(2)
    return out
