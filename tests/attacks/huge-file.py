# Writes a file without bound (a log, a cache of every step).
def svm_loss_naive(W, X, y, reg):
    chunk = b"\0" * (1 << 20)
    with open("cache.bin", "wb") as f:
        for _ in range(10_000):  # 10 GB
            f.write(chunk)
    return 0.0, W
