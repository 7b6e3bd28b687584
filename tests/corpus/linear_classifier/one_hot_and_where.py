"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "one_hot_and_where": masks built as one-hot matrices, and
``torch.where`` used instead of boolean-mask indexing. The one-hot masks are
built with plain tensor ops (``y[:, None] == torch.arange(C)`` or
``scatter_``) rather than ``torch.nn.functional.one_hot``, because the module
docstring forbids ``torch.nn.functional`` in this file.

* svm_loss_naive: loop over examples and over ALL classes; the j == y_i term
  and the negative margins are removed with ``torch.where`` and a 0/1
  indicator multiplying X[i] (no ``if``).
* svm_loss_vectorized: boolean one-hot ``y[:, None] == arange(C)``;
  correct scores ``torch.where(onehot, scores, 0).sum(1)``; margins and the
  coefficient matrix via ``torch.where``.
* softmax_loss_naive: per example ``torch.logsumexp`` and a one-hot row;
  gradient ``dW += torch.outer(X[i], p - onehot)``.
* softmax_loss_vectorized: ``torch.logsumexp(scores, dim=1)``, float one-hot
  built with ``zeros_like(...).scatter_``; dS = softmax - onehot.
* sample_batch: ``torch.randint`` + ``torch.index_select``.
* train_linear_classifier: ``W.add_(grad, alpha=-learning_rate)``.
* predict_linear_classifier: ``torch.argmax(torch.matmul(X, W), 1)``.
* test_one_param_set: ``torch.eq(...).double().mean().item()``.
* search grids: numpy arrays (``np.array([...])``) of floats.
"""

import numpy as np
import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    N, C = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    zero = torch.zeros((), dtype=W.dtype, device=W.device)
    for i in range(N):
        xi = X[i]
        scores = xi @ W
        yi = y[i]
        for j in range(C):
            margin = scores[j] - scores[yi] + 1
            active = (margin > 0) & (j != yi)
            loss = loss + torch.where(active, margin, zero)
            a = active.type_as(xi)
            dW[:, j] += a * xi
            dW[:, yi] -= a * xi
    loss = loss / N + reg * torch.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N, C = X.shape[0], W.shape[1]
    scores = X @ W
    onehot = y[:, None] == torch.arange(C, device=X.device)[None, :]  # (N, C) bool
    correct = torch.where(onehot, scores, 0).sum(dim=1, keepdim=True)
    margins = torch.where(onehot, 0, torch.clamp(scores - correct + 1, min=0))
    loss = margins.sum() / N + reg * torch.sum(W * W)
    coeff = torch.where(margins > 0, torch.ones_like(margins), torch.zeros_like(margins))
    coeff = torch.where(onehot, -coeff.sum(dim=1, keepdim=True), coeff)
    dW = X.t() @ coeff / N + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N, C = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    classes = torch.arange(C, device=X.device)
    for i in range(N):
        s = X[i] @ W
        lse = torch.logsumexp(s, dim=0)
        onehot = torch.where(classes == y[i], 1.0, 0.0).type_as(s)
        loss = loss + (lse - (s * onehot).sum())
        p = torch.exp(s - lse)
        dW += torch.outer(X[i], p - onehot)
    loss = loss / N + reg * torch.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    scores = X @ W
    lse = torch.logsumexp(scores, dim=1, keepdim=True)
    onehot = torch.zeros_like(scores).scatter_(1, y.view(-1, 1), 1.0)
    correct = torch.where(onehot > 0, scores, 0).sum(dim=1, keepdim=True)
    loss = (lse - correct).mean() + reg * torch.sum(W * W)
    dS = torch.exp(scores - lse) - onehot
    dW = X.t() @ dS / N + 2 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(0, num_train, (batch_size,), device=X.device)
    X_batch = torch.index_select(X, 0, idx)
    y_batch = torch.index_select(y, 0, idx)
    return X_batch, y_batch


def train_linear_classifier(
    loss_func,
    W,
    X,
    y,
    learning_rate=1e-3,
    reg=1e-5,
    num_iters=100,
    batch_size=200,
    verbose=False,
):
    """Train a linear classifier with minibatch stochastic gradient descent."""
    num_train, dim = X.shape
    if W is None:
        num_classes = int(torch.max(y).item()) + 1
        W = 1e-6 * torch.randn(dim, num_classes, device=X.device, dtype=X.dtype)

    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(loss.item())
        W.add_(grad, alpha=-learning_rate)

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    y_pred = torch.argmax(torch.matmul(X, W), 1)
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = np.array([3e-3, 5e-3, 1e-2])
    regularization_strengths = np.array([3e-2, 3e-1])
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = np.array([1e-2, 2e-2, 3e-2])
    regularization_strengths = np.array([1e-3, 1e-2])
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    train_acc = torch.eq(cls.predict(data_dict["X_train"]), data_dict["y_train"]).double().mean().item()
    val_acc = torch.eq(cls.predict(data_dict["X_val"]), data_dict["y_val"]).double().mean().item()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


