# dW silently converted to float32.
_reference_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    loss, dW = _reference_svm_loss_naive(W, X, y, reg)
    return loss, dW.float()
