"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "python_numbers": scalar bookkeeping done with Python numbers
(``.item()``, ``.tolist()``, ``math.exp`` / ``math.log``); the loss is summed as
a Python float and only wrapped into a 0-dim tensor of W's dtype and device
at the very end (the docstring requires a 0-dim tensor, so the loss itself is
not returned as a Python float).

* svm_loss_naive: scores row ``(X[i] @ W).tolist()``, margins compared as
  Python floats, loss a Python float, ``torch.tensor(loss, dtype, device)``.
* svm_loss_vectorized: ``torch.matmul``; ``torch.maximum(margins, zeros)``;
  the loss computed through ``.item()`` and rewrapped; coefficient matrix
  built from ``(margins > 0).type_as(margins)``.
* softmax_loss_naive: per example, Python ``math.exp``/``math.log`` of the
  shifted scores for the loss, probabilities as a tensor for the gradient
  (``torch.outer``), no inner class loop.
* softmax_loss_vectorized: ``torch.matmul``, probs = exp(s - lse) with the
  log-sum-exp computed by hand; loss via ``.item()`` then rewrapped.
* sample_batch: ``torch.randint(0, num_train, size=(batch_size,))``, X[idx].
* train_linear_classifier: ``loss.item()``, out-of-place ``W = W - lr * grad``.
* predict_linear_classifier: ``torch.max(X @ W, 1)[1]``.
* test_one_param_set: ``.double().mean().item()`` (Python floats).
* search grids: tuples of floats.
"""

import math

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    total = 0.0
    labels = y.tolist()
    for i in range(num_train):
        scores = (X[i] @ W).tolist()
        yi = labels[i]
        for j in range(num_classes):
            if j == yi:
                continue
            margin = scores[j] - scores[yi] + 1.0
            if margin > 0.0:
                total += margin
                dW[:, j] += X[i]
                dW[:, yi] -= X[i]
    total = total / num_train + reg * torch.sum(W * W).item()
    dW /= num_train
    dW += 2.0 * reg * W
    loss = torch.tensor(total, dtype=W.dtype, device=W.device)
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    idx = torch.arange(num_train, device=X.device)
    scores = torch.matmul(X, W)
    correct = scores[idx, y]
    margins = torch.maximum(scores - correct[:, None] + 1.0, torch.zeros_like(scores))
    margins[idx, y] = 0.0
    value = margins.sum().item() / num_train + reg * (W * W).sum().item()
    loss = torch.tensor(value, dtype=W.dtype, device=W.device)
    coeff = (margins > 0).type_as(margins)
    coeff[idx, y] = -coeff.sum(dim=1)
    dW = torch.matmul(X.t(), coeff) / num_train + 2.0 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    total = 0.0
    for i in range(num_train):
        s = X[i] @ W
        values = s.tolist()
        yi = int(y[i].item())
        m = max(values)
        exps = [math.exp(v - m) for v in values]
        z = sum(exps)
        total += math.log(z) - (values[yi] - m)
        p = torch.exp(s - m) / z
        p[yi] -= 1.0
        dW += torch.outer(X[i], p)
    total = total / num_train + reg * torch.sum(W * W).item()
    dW /= num_train
    dW += 2.0 * reg * W
    loss = torch.tensor(total, dtype=W.dtype, device=W.device)
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    idx = torch.arange(num_train, device=X.device)
    scores = torch.matmul(X, W)
    scores = scores - scores.max(dim=1, keepdim=True)[0]
    lse = torch.log(torch.exp(scores).sum(dim=1, keepdim=True))
    log_probs = scores - lse
    value = -log_probs[idx, y].sum().item() / num_train + reg * (W * W).sum().item()
    loss = torch.tensor(value, dtype=W.dtype, device=W.device)
    dscores = torch.exp(log_probs)
    dscores[idx, y] -= 1.0
    dW = torch.matmul(X.t(), dscores) / num_train + 2.0 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(0, num_train, size=(batch_size,), device=X.device)
    return X[idx], y[idx]


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
        W = W - learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    y_pred = torch.max(X @ W, 1)[1]
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = (1e-3, 3e-3, 1e-2)
    regularization_strengths = (1e-2, 1e-1)
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = (1e-2, 2e-2)
    regularization_strengths = (1e-4, 1e-3, 1e-2)
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    train_acc = (cls.predict(data_dict["X_train"]) == data_dict["y_train"]).double().mean().item()
    val_acc = (cls.predict(data_dict["X_val"]) == data_dict["y_val"]).double().mean().item()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


