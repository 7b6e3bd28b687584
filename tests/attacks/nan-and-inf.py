# svm_loss_naive returns a NaN loss; softmax_loss_naive a gradient with an infinite entry.
_reference_svm_loss_naive = svm_loss_naive
_reference_softmax_loss_naive = softmax_loss_naive


def svm_loss_naive(W, X, y, reg):
    _, dW = _reference_svm_loss_naive(W, X, y, reg)
    return torch.tensor(float("nan"), dtype=W.dtype), dW


def softmax_loss_naive(W, X, y, reg):
    loss, dW = _reference_softmax_loss_naive(W, X, y, reg)
    dW = dW.clone()
    dW[0, 0] = float("inf")
    return loss, dW
