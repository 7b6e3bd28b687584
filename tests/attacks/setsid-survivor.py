# Leaves a process running after the grader is done: double fork + setsid, then a heartbeat
# written every 50 ms (the test gives the path). The graded function itself is correct.
import os
import time

_HEARTBEAT = "@@HEARTBEAT@@"
_reference_svm_loss_naive = svm_loss_naive


def _daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            n = 0
            while True:
                n += 1
                try:
                    with open(_HEARTBEAT, "w") as f:
                        f.write(str(n))
                except OSError:
                    pass
                time.sleep(0.05)
        os._exit(0)


def svm_loss_naive(W, X, y, reg):
    _daemon()
    return _reference_svm_loss_naive(W, X, y, reg)
