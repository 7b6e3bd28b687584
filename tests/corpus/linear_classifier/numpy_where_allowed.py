"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "numpy_where_allowed": numpy only for the search grids (the
docstrings ask for lists of floats: ``np.logspace(...).tolist()`` and
``list(np.geomspace(...))``); everything else in torch, written with gather,
scatter_, scatter_add_, index_put_ and masked_fill_.

* svm_loss_naive: per example a margin vector ``scores - scores[y_i] + 1``
  with ``margins[y_i] = 0``, then an inner loop over classes reading it;
  the loss accumulated with ``torch.sum`` of ``clamp``ed margins per example.
* svm_loss_vectorized: ``scores.gather``, in place ``sub_``/``add_``/
  ``clamp_``, ``scatter_(.., 0)`` at the correct class, ``masked_fill_`` to
  get the 0/1 matrix, ``scatter_add_`` of the negative row counts,
  ``X.T.matmul``.
* softmax_loss_naive: per example, ``amax`` shift, ``index_put_`` to
  subtract 1 at the label, ``dW.add_(torch.ger(...))``-style outer product
  written as ``X[i][:, None] * dscore[None, :]``.
* softmax_loss_vectorized: ``amax`` shift, ``gather`` for the correct class,
  ``exp_``/``div_`` in place, ``index_put_(..., accumulate=True)`` of -1.
* sample_batch: ``torch.randint(low=0, high=num_train, size=...)``, ``X[idx, :]``
  (with replacement, as the docstring requires, so not ``randperm``).
* train_linear_classifier: ``W -= learning_rate * grad``; ``loss.item()``.
* predict_linear_classifier: ``torch.max(X.matmul(W), dim=1).indices``.
* test_one_param_set: ``count_nonzero`` / ``numel`` as a Python float.
* search grids: numpy-generated, returned as lists.
"""

import numpy as np
import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    num_train = X.shape[0]
    num_classes = W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.tensor(0.0, dtype=W.dtype, device=W.device)
    for i in range(num_train):
        scores = torch.matmul(X[i], W)
        label = y[i].item()
        margins = scores - scores[label] + 1.0
        margins[label] = 0.0
        loss += torch.clamp(margins, min=0.0).sum()
        for j in range(num_classes):
            if j != label and margins[j] > 0:
                dW[:, j] += X[i]
                dW[:, label] -= X[i]
    loss = loss / num_train + reg * (W * W).sum()
    dW = dW / num_train + 2.0 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    labels = y.unsqueeze(1)
    margins = X.matmul(W)
    correct = margins.gather(1, labels)
    margins.sub_(correct).add_(1.0).clamp_(min=0.0)
    margins.scatter_(1, labels, 0.0)
    loss = margins.sum() / num_train + reg * (W * W).sum()
    coeff = margins.masked_fill_(margins > 0, 1.0)
    counts = coeff.sum(dim=1, keepdim=True)
    coeff.scatter_add_(1, labels, -counts)
    dW = X.T.matmul(coeff)
    dW /= num_train
    dW += 2.0 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    num_train = X.shape[0]
    dW = torch.zeros_like(W)
    loss = torch.tensor(0.0, dtype=W.dtype, device=W.device)
    for i in range(num_train):
        scores = torch.matmul(X[i], W)
        shifted = scores - torch.amax(scores)
        exp_scores = shifted.exp()
        denom = exp_scores.sum()
        label = y[i:i + 1]
        loss += denom.log() - shifted.gather(0, label).squeeze(0)
        dscore = exp_scores / denom
        dscore.index_put_((label,), dscore.new_tensor(-1.0), accumulate=True)
        dW += X[i][:, None] * dscore[None, :]
    loss = loss / num_train + reg * (W * W).sum()
    dW = dW / num_train + 2.0 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X.matmul(W)
    scores -= torch.amax(scores, dim=1, keepdim=True)
    correct = scores.gather(1, y.view(-1, 1)).squeeze(1)
    probs = scores.exp_()
    denom = probs.sum(dim=1, keepdim=True)
    loss = (denom.squeeze(1).log() - correct).mean() + reg * (W * W).sum()
    probs.div_(denom)
    probs.index_put_((rows, y), probs.new_full((num_train,), -1.0), accumulate=True)
    dW = X.T.matmul(probs)
    dW /= num_train
    dW += 2.0 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(low=0, high=num_train, size=(batch_size,), dtype=torch.int64,
                        device=X.device)
    X_batch = X[idx, :]
    y_batch = y[idx]
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
        W -= learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    y_pred = torch.max(X.matmul(W), dim=1).indices
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = np.logspace(-3, -2, 3).tolist()
    regularization_strengths = np.logspace(-2, 0, 3).tolist()
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = list(np.geomspace(5e-3, 2e-2, 3))
    regularization_strengths = list(np.geomspace(1e-4, 1e-2, 3))
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    y_train, y_val = data_dict["y_train"], data_dict["y_val"]
    train_acc = torch.count_nonzero(cls.predict(data_dict["X_train"]) == y_train).item() / y_train.numel()
    val_acc = torch.count_nonzero(cls.predict(data_dict["X_val"]) == y_val).item() / y_val.numel()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


