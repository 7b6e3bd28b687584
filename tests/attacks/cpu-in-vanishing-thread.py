# A "vectorized" SVM loss that runs the naive loops in a thread that has exited before the grader
# reads the CPU counters: the work must still count as this function's time.
import threading as _threading


def svm_loss_vectorized(W, X, y, reg):
    out = []
    t = _threading.Thread(target=lambda: out.append(svm_loss_naive(W, X, y, reg)))
    t.start()
    t.join()
    return out[0]
