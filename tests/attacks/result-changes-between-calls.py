# Right on the first call, drifting afterwards (state kept in a global).
_reference_svm_loss_naive = svm_loss_naive
_calls = [0]


def svm_loss_naive(W, X, y, reg):
    _calls[0] += 1
    loss, dW = _reference_svm_loss_naive(W, X, y, reg)
    return loss + 1e-3 * (_calls[0] - 1), dW
