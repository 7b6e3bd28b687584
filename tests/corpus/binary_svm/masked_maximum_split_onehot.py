"""Student implementation "masked_maximum_split_onehot" (corpus variant C).

Styles: to_pm1_labels = -ones then boolean-mask assignment of +1;
normalize = torch.std_mean(X_train, dim=0) (unbiased) and a list;
hinge_loss = torch.maximum(margin, 0) with sum / N and lam * torch.norm(W)**2;
train_binary_svm = torch.split(perm, batch_size), in-place W.sub_() under
no_grad, W.grad.zero_(); svm_predict = ones then mask assignment of -1;
train_one_vs_all = loop writing W[:, c].copy_() into the preallocated
tensors; predict_* = .max(dim=1)[1]; per_class_accuracy = loop with
counts and hits and a Python list turned into a float64 tensor;
softmax_cross_entropy = explicit log-softmax (shifted - log sum exp shifted)
and a hand-made one-hot (scatter) for the negative log-likelihood;
train_softmax_regression = same loop as the SVM with a helper for the step.

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
    labels = -torch.ones(y.shape, dtype=dtype, device=y.device)
    labels[y == positive_class] = 1.0
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    std, mean = torch.std_mean(X_train, dim=0)
    out = []
    for X in (X_train, X_val, X_test):
        out.append((X - mean) / (std + eps))
    out = tuple(out)
    return out


# ---------------------------------------------------------------------------
# Binary soft-margin SVM
# ---------------------------------------------------------------------------


def hinge_loss(scores, labels, W, lam):
    n = scores.shape[0]
    margin = 1.0 - labels * scores
    zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
    data_loss = torch.maximum(margin, zero).sum() / n
    reg_loss = lam * torch.norm(W) ** 2
    loss = data_loss + reg_loss
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        shuffled = torch.randperm(num_train, device=X.device)
        for batch_idx in torch.split(shuffled, batch_size):
            scores = X[batch_idx] @ W + b
            loss = hinge_loss(scores, labels[batch_idx], W, lam)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W.sub_(learning_rate * W.grad)
                b.sub_(learning_rate * b.grad)
            W.grad.zero_()
            b.grad.zero_()
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    scores = X @ W + b
    pred = torch.ones(scores.shape, dtype=X.dtype, device=X.device)
    pred[scores < 0] = -1.0
    return pred


# ---------------------------------------------------------------------------
# One-vs-all
# ---------------------------------------------------------------------------


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    W = torch.zeros(X.shape[1], num_classes, dtype=X.dtype, device=X.device)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    for c in range(num_classes):
        w_c, b_c, hist = train_binary_svm(X, to_pm1_labels(y, c, X.dtype), **train_kwargs)
        W[:, c].copy_(w_c)
        b[c].copy_(b_c)
    return W, b


def predict_one_vs_all(X, W, b):
    scores = X @ W + b
    y_pred = scores.max(dim=1)[1]
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    values = []
    for c in range(num_classes):
        in_class = y == c
        count = int(in_class.sum())
        hits = int((y_pred[in_class] == c).sum())
        values.append(hits / count if count > 0 else 0.0)
    acc = torch.tensor(values, dtype=torch.float64, device=y.device)
    return acc


# ---------------------------------------------------------------------------
# Softmax regression
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    num = logits.shape[0]
    row_max, _ = torch.max(logits, dim=1, keepdim=True)
    shifted = logits - row_max
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    one_hot = torch.zeros_like(logits).scatter(1, labels.view(-1, 1), 1.0)
    loss = -(one_hot * log_probs).sum() / num
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    def _sgd_step(params):
        with torch.no_grad():
            for p in params:
                p.sub_(learning_rate * p.grad)
                p.grad.zero_()

    for epoch in range(num_epochs):
        shuffled = torch.randperm(num_train, device=X.device)
        for batch_idx in torch.split(shuffled, batch_size):
            logits = X[batch_idx] @ W + b
            loss = softmax_cross_entropy(logits, y[batch_idx]) + lam * torch.norm(W) ** 2
            loss_history.append(loss.item())
            loss.backward()
            _sgd_step((W, b))
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = (X @ W + b).max(dim=1)[1]
    return y_pred
