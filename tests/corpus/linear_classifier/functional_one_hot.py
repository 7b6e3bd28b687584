# builds on: one_hot_and_where.py
"""Corpus variant "functional_one_hot": the vectorized losses with ``F.one_hot`` for the label
mask (a tensor utility the module docstring allows), imported under the usual alias.

* svm_loss_vectorized: margins through a one-hot float mask, hinge with clamp, the gradient's
  count of violating classes subtracted through the same mask.
* softmax_loss_vectorized: max-shifted log-softmax, the loss picked out with the one-hot mask
  (a sum, not gather), the gradient as probs - one_hot.
"""
import torch.nn.functional as F


def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X @ W
    onehot = F.one_hot(y, num_classes=W.shape[1]).to(scores.dtype)
    correct = (scores * onehot).sum(dim=1, keepdim=True)
    margins = torch.clamp(scores - correct + 1.0, min=0) * (1 - onehot)
    loss = margins.sum() / N + reg * torch.sum(W * W)
    active = (margins > 0).to(scores.dtype)
    coeff = active - onehot * active.sum(dim=1, keepdim=True)
    dW = X.t() @ coeff / N + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X @ W
    shifted = scores - scores.max(dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    onehot = F.one_hot(y, num_classes=W.shape[1]).to(scores.dtype)
    loss = -(log_probs * onehot).sum() / N + reg * torch.sum(W * W)
    dW = X.t() @ (torch.exp(log_probs) - onehot) / N + 2 * reg * W
    return loss, dW
