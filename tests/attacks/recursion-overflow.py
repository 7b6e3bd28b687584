# Unbounded recursion.
def svm_loss_naive(W, X, y, reg):
    return svm_loss_naive(W, X, y, reg)
