"""Student implementation "where_clamp_loop" (corpus variant A).

Styles: to_pm1_labels = torch.where(y == c, 1.0, -1.0).to(dtype);
normalize = X_train.mean(dim=0) / X_train.std(dim=0) applied in a tuple
comprehension; hinge_loss = torch.clamp(1 - labels * scores, min=0).mean() +
lam * torch.sum(W * W); train_binary_svm = randperm + index slicing,
W.grad.zero_(); svm_predict = torch.where(... >= 0, 1.0, -1.0) cast to X's
dtype; train_one_vs_all = loop over classes filling the preallocated
columns W[:, c]; predict_one_vs_all / predict_softmax = .argmax(dim=1);
per_class_accuracy = Python loop with a mask per class, a float32 mean per class;
softmax_cross_entropy = max-shift, log(sum(exp)), fancy indexing
shifted[arange(N), labels]; train_softmax_regression = same loop as the SVM.

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
    labels = torch.where(y == positive_class, 1.0, -1.0).to(dtype)
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    mean = X_train.mean(dim=0)
    std = X_train.std(dim=0)
    out = tuple((X - mean) / (std + eps) for X in (X_train, X_val, X_test))
    return out


# ---------------------------------------------------------------------------
# Binary soft-margin SVM
# ---------------------------------------------------------------------------


def hinge_loss(scores, labels, W, lam):
    margins = torch.clamp(1 - labels * scores, min=0)
    loss = margins.mean() + lam * torch.sum(W * W)
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for start in range(0, num_train, batch_size):
            idx = perm[start:start + batch_size]
            X_b, labels_b = X[idx], labels[idx]
            loss = hinge_loss(X_b @ W + b, labels_b, W, lam)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W -= learning_rate * W.grad
                b -= learning_rate * b.grad
                W.grad.zero_()
                b.grad.zero_()
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    scores = X @ W + b
    pred = torch.where(scores >= 0, 1.0, -1.0).to(X.dtype)
    return pred


# ---------------------------------------------------------------------------
# One-vs-all
# ---------------------------------------------------------------------------


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    W = torch.zeros(X.shape[1], num_classes, dtype=X.dtype, device=X.device)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    for c in range(num_classes):
        labels_c = to_pm1_labels(y, c, dtype=X.dtype)
        W_c, b_c, _ = train_binary_svm(X, labels_c, **train_kwargs)
        W[:, c] = W_c
        b[c] = b_c
    return W, b


def predict_one_vs_all(X, W, b):
    y_pred = (X @ W + b).argmax(dim=1)
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    acc = torch.zeros(num_classes, dtype=torch.float64, device=y.device)
    for c in range(num_classes):
        mask = y == c
        if mask.sum() > 0:
            acc[c] = (y_pred[mask] == c).float().mean()  # a float32 mean, stored in float64
    return acc


# ---------------------------------------------------------------------------
# Softmax regression
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    N = logits.shape[0]
    shifted = logits - logits.max(dim=1, keepdim=True).values
    log_sum_exp = torch.log(torch.exp(shifted).sum(dim=1))
    correct = shifted[torch.arange(N, device=logits.device), labels]
    loss = (log_sum_exp - correct).mean()
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for start in range(0, num_train, batch_size):
            idx = perm[start:start + batch_size]
            X_b, y_b = X[idx], y[idx]
            loss = softmax_cross_entropy(X_b @ W + b, y_b) + lam * torch.sum(W * W)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W -= learning_rate * W.grad
                b -= learning_rate * b.grad
                W.grad.zero_()
                b.grad.zero_()
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = (X @ W + b).argmax(dim=1)
    return y_pred
