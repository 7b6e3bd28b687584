# dW on another device ('meta' stands in for a GPU on a CPU-only grader).
_reference_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    loss, dW = _reference_svm_loss_naive(W, X, y, reg)
    return loss, dW.to("meta")
