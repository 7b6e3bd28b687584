"""Student implementation "dotdata_sign_cat" (corpus variant D).

Styles: to_pm1_labels = torch.full(-1).masked_fill(y == c, 1);
normalize = keepdim mean and var(dim=0).sqrt() (unbiased, like std);
hinge_loss = (1 - y * s).clamp_min(0) averaged with torch.mean, penalty
lam * torch.sum(torch.square(W)); train_binary_svm = the classic .data
update (W.data -= lr * W.grad.data; W.grad.data.zero_()) inside
torch.no_grad(), batch indices from perm.split; svm_predict = torch.sign
with the zeros set to +1; train_one_vs_all = torch.cat of unsqueezed
columns; predict_* = torch.argmax(scores, 1); per_class_accuracy = list of
per-class means, NaN of empty classes turned into 0 with nan_to_num;
softmax_cross_entropy = row max (non-keepdim) + torch.take_along_dim,
negative log-likelihood of the log-softmax.

Part 4: CIFAR-10 from scratch: a binary soft-margin SVM, one-vs-all and softmax regression.

You implement, with plain PyTorch tensor operations and autograd:

* label conversion to {-1, +1} and feature normalisation with TRAINING
  statistics only;
* the soft-margin hinge loss with an L2 penalty, and SGD training of a binary
  linear SVM with it;
* one-vs-all: ten binary SVMs (class c against the rest), prediction by the
  highest score, per-class accuracies;
* a numerically stable ``softmax_cross_entropy`` (log-softmax and negative
  log-likelihood in one) and multinomial logistic regression trained with it.

Conventions used everywhere in this file:

* ``X`` has shape ``(N, D)``, floating point, one example per row (no bias
  column: the bias ``b`` is a separate parameter). ``D = 3072`` for CIFAR-10.
* A binary model is ``W`` of shape ``(D,)`` and ``b`` a 0-dimensional tensor;
  its scores are ``X @ W + b``. A multiclass model is ``W`` of shape
  ``(D, C)`` and ``b`` of shape ``(C,)``; its scores are ``X @ W + b``.
* Class labels ``y`` have shape ``(N,)``, dtype ``torch.int64``, values in
  ``0..C-1``. Binary SVM labels are ``-1.0`` / ``+1.0`` (never 0 / 1).
* Gradients come from autograd (``loss.backward()``); the losses must be
  built from torch operations so autograd can differentiate them.
* Do not use ``torch.nn``, ``torch.nn.functional``, ``torch.softmax``,
  ``torch.log_softmax``, ``torch.logsumexp`` or torch's loss functions in
  this file: the point is to write them yourself.
* Do not modify input tensors in place. Keep the dtype and device of ``X``.
"""

import torch


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def to_pm1_labels(y, positive_class, dtype=torch.float32):
    labels = torch.full(y.shape, -1.0, dtype=dtype, device=y.device).masked_fill(y == positive_class, 1.0)
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    mu = torch.mean(X_train, dim=0, keepdim=True)
    sigma = X_train.var(dim=0, keepdim=True).sqrt()
    out = ((X_train - mu) / (sigma + eps), (X_val - mu) / (sigma + eps), (X_test - mu) / (sigma + eps))
    return out


# ---------------------------------------------------------------------------
# Binary soft-margin SVM
# ---------------------------------------------------------------------------


def hinge_loss(scores, labels, W, lam):
    loss = torch.mean((1 - labels * scores).clamp_min(0)) + lam * torch.sum(torch.square(W))
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for idx in perm.split(batch_size):
            loss = hinge_loss(X[idx] @ W + b, labels[idx], W, lam)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W.data -= learning_rate * W.grad.data
                b.data -= learning_rate * b.grad.data
                W.grad.data.zero_()
                b.grad.data.zero_()
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    pred = torch.sign(X @ W + b)
    pred[pred == 0] = 1.0   # a score of exactly 0 counts as positive
    pred = pred.to(X.dtype)
    return pred


# ---------------------------------------------------------------------------
# One-vs-all
# ---------------------------------------------------------------------------


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    W = torch.zeros(X.shape[1], num_classes, dtype=X.dtype, device=X.device)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    W_cols, b_list = [], []
    for c in range(num_classes):
        W_c, b_c, _ = train_binary_svm(X, to_pm1_labels(y, c, dtype=X.dtype), **train_kwargs)
        W_cols.append(W_c.unsqueeze(1))
        b_list.append(b_c.reshape(1))
    W = torch.cat(W_cols, dim=1)
    b = torch.cat(b_list)
    return W, b


def predict_one_vs_all(X, W, b):
    y_pred = torch.argmax(X @ W + b, 1)
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    per_class = [(y_pred[y == c] == c).double().mean() for c in range(num_classes)]
    acc = torch.nan_to_num(torch.stack(per_class), nan=0.0).to(torch.float64)
    return acc


# ---------------------------------------------------------------------------
# Softmax regression
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    row_max = logits.max(dim=1).values
    z = logits - row_max[:, None]
    log_softmax = z - torch.log(torch.exp(z).sum(dim=1))[:, None]
    nll = -torch.take_along_dim(log_softmax, labels[:, None], dim=1).squeeze(1)
    loss = nll.mean()
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for idx in perm.split(batch_size):
            loss = softmax_cross_entropy(X[idx] @ W + b, y[idx]) + lam * torch.sum(torch.square(W))
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W.data -= learning_rate * W.grad.data
                b.data -= learning_rate * b.grad.data
                W.grad.data.zero_()
                b.grad.data.zero_()
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = torch.argmax(X @ W + b, 1)
    return y_pred
