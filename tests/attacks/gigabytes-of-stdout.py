# Prints without end (a debug print inside a long loop).
def svm_loss_naive(W, X, y, reg):
    line = "debug " * 2000 + "\n"
    while True:
        print(line, end="")
