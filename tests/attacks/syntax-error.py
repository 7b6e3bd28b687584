# A half-edited function: the colon is missing, so the whole module cannot be compiled.
def svm_loss_naive(W, X, y, reg)
    return 0.0, W
