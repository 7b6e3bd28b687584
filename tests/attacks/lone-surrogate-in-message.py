# An exception whose message holds lone surrogates (not encodable as UTF-8), printed output too.
def svm_loss_naive(W, X, y, reg):
    print("bad bytes: \udcff\udcfe")
    raise ValueError("decoding failed at \udcff \ud800")
