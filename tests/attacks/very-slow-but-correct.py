# Correct answers, far too slowly (here: a long pause before the reference's answer).
import time

_reference_svm_loss_naive = svm_loss_naive


def svm_loss_naive(W, X, y, reg):
    time.sleep(60)
    return _reference_svm_loss_naive(W, X, y, reg)
