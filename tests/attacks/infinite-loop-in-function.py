# svm_loss_naive never returns; every other function is the reference.
def svm_loss_naive(W, X, y, reg):
    while True:
        pass
