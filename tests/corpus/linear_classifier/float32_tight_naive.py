# builds on: float32_accumulation.py
"""Corpus variant "float32_tight_naive": float32_accumulation.py with another
softmax_loss_naive, which is a tight loop over the examples only
(allowed by its docstring: "loop over the examples (and, if you like, the
classes)"): per example ``s - s.max()``, exp, sum, ``log(z) - s[y_i]``,
``e /= z``, ``e[y_i] -= 1``, ``dW += torch.outer(X[i], e)``.

A good naive loss leaves the speedup of a vectorized loss that runs at the
reference's speed close to the 3x floor: the timing check must not fail it.
"""

import torch


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient: a loop over the examples."""
    dW = torch.zeros_like(W)
    loss = W.new_zeros(())
    ys = y.tolist()
    for i in range(X.shape[0]):
        xi = X[i]
        s = xi @ W
        s = s - s.max()
        e = s.exp()
        z = e.sum()
        loss += z.log() - s[ys[i]]
        e /= z
        e[ys[i]] -= 1
        dW += torch.outer(xi, e)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


