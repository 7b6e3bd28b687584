# A loss that puts its work on a GPU by name, as a notebook on Colab would: the grader has none.
_reference_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    dW = torch.zeros(W.shape, dtype=W.dtype, device="cuda")
    loss, grad = _reference_svm_loss_naive(W, X, y, reg)
    return loss, dW + grad
