"""Student implementation "arith_relu_stack_bincount" (corpus variant B).

Styles: to_pm1_labels = 2 * (y == c).to(dtype) - 1; normalize = mean and
unbiased std written out by hand (sum of squares / (N - 1), sqrt);
hinge_loss = torch.relu(1 - y * s).mean() + lam * (W ** 2).sum();
train_binary_svm = randperm + slicing, gradients reset with W.grad = None;
svm_predict = 2 * (scores >= 0).to(dtype) - 1; train_one_vs_all = lists of
columns joined with torch.stack(dim=1); predict_one_vs_all =
torch.max(...).indices; per_class_accuracy = torch.bincount;
softmax_cross_entropy = hand-written logsumexp (detached row max added back)
with torch.gather; predict_softmax = torch.argmax.

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
    labels = 2 * (y == positive_class).to(dtype) - 1
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    n = X_train.shape[0]
    mean = X_train.sum(dim=0) / n
    var = ((X_train - mean) ** 2).sum(dim=0) / (n - 1)   # unbiased, like torch.std
    std = torch.sqrt(var)
    X_train_n = (X_train - mean) / (std + eps)
    X_val_n = (X_val - mean) / (std + eps)
    X_test_n = (X_test - mean) / (std + eps)
    out = (X_train_n, X_val_n, X_test_n)
    return out


# ---------------------------------------------------------------------------
# Binary soft-margin SVM
# ---------------------------------------------------------------------------


def hinge_loss(scores, labels, W, lam):
    hinge = torch.relu(1 - labels * scores)
    loss = hinge.mean() + lam * (W ** 2).sum()
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for _ in range(num_epochs):
        order = torch.randperm(num_train, device=X.device)
        for i in range(0, num_train, batch_size):
            batch = order[i:i + batch_size]
            loss = hinge_loss(X[batch] @ W + b, labels[batch], W, lam)
            loss.backward()
            loss_history.append(float(loss.detach()))
            with torch.no_grad():
                W -= learning_rate * W.grad
                b -= learning_rate * b.grad
            W.grad = None
            b.grad = None
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    pred = 2 * ((X @ W + b) >= 0).to(X.dtype) - 1
    return pred


# ---------------------------------------------------------------------------
# One-vs-all
# ---------------------------------------------------------------------------


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    W = torch.zeros(X.shape[1], num_classes, dtype=X.dtype, device=X.device)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    columns, biases = [], []
    for c in range(num_classes):
        w_c, b_c, _ = train_binary_svm(X, to_pm1_labels(y, c, dtype=X.dtype), **train_kwargs)
        columns.append(w_c)
        biases.append(b_c)
    W = torch.stack(columns, dim=1)
    b = torch.stack(biases)
    return W, b


def predict_one_vs_all(X, W, b):
    y_pred = torch.max(X @ W + b, dim=1).indices
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    hits = torch.bincount(y[y_pred == y], minlength=num_classes).double()
    counts = torch.bincount(y, minlength=num_classes).double()
    acc = torch.where(counts > 0, hits / counts.clamp(min=1), torch.zeros_like(counts))
    return acc


# ---------------------------------------------------------------------------
# Softmax regression
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    m = logits.max(dim=1, keepdim=True)[0].detach()
    lse = m.squeeze(1) + torch.log(torch.sum(torch.exp(logits - m), dim=1))
    picked = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    loss = torch.mean(lse - picked)
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for _ in range(num_epochs):
        order = torch.randperm(num_train, device=X.device)
        for i in range(0, num_train, batch_size):
            batch = order[i:i + batch_size]
            loss = softmax_cross_entropy(X[batch] @ W + b, y[batch]) + lam * (W ** 2).sum()
            loss.backward()
            loss_history.append(float(loss.detach()))
            with torch.no_grad():
                W -= learning_rate * W.grad
                b -= learning_rate * b.grad
            W.grad = None
            b.grad = None
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = torch.argmax(X @ W + b, dim=1)
    return y_pred
