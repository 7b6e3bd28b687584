"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "tight_example_loop": naive losses written as a tight loop
over the examples with as few tensor operations per example as possible
(the Softmax naive loops over the examples only, which its docstring allows:
"loop over the examples (and, if you like, the classes)").

* svm_loss_naive: labels read once with ``y.tolist()``; per example one
  score row, then the class loop as the docstring asks, with the margin
  row ``scores - scores[y_i] + 1`` computed once and read per class.
* svm_loss_vectorized: ``margins[idx, y] = 0`` then ``margins.gt(0).type(W.dtype)``
  (a dtype cast, not ``.to()``), ``torch.clamp_min``, ``X.T @``.
* softmax_loss_naive: per example ``s - s.max()``, exp, sum, log for the
  loss, probabilities ``e / z`` with ``e[y_i] -= 1`` and
  ``dW += torch.outer(X[i], e)``.
* softmax_loss_vectorized: ``scores.logsumexp(1, keepdim=True)`` (tensor
  method) for the loss and ``torch.exp(scores - lse)`` for the gradient.
* sample_batch: ``torch.randint(num_train, size=(batch_size,), device=...)``.
* train_linear_classifier: ``loss_history += [loss.item()]``, ``W -= lr * grad``.
* predict_linear_classifier: ``torch.max(X @ W, dim=1).indices``.
* test_one_param_set: nested helper ``accuracy(X, y)`` returning a Python float.
* search grids: products ``[1e-3 * k for k in (...)]``.
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = W.new_zeros(())
    labels = y.tolist()
    for i in range(num_train):
        xi = X[i]
        yi = labels[i]
        scores = xi @ W
        margins = scores - scores[yi] + 1
        positive = (margins > 0).tolist()
        for j in range(num_classes):
            if j != yi and positive[j]:
                loss += margins[j]
                dW[:, j] += xi
                dW[:, yi] -= xi
    loss = loss / num_train + reg * (W * W).sum()
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    idx = torch.arange(num_train, device=X.device)
    scores = X @ W
    margins = torch.clamp_min(scores - scores[idx, y][:, None] + 1, 0)
    margins[idx, y] = 0
    loss = margins.sum() / num_train + reg * (W * W).sum()
    coeff = margins.gt(0).type(W.dtype)
    coeff[idx, y] = -coeff.sum(1)
    dW = X.T @ coeff / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    num_train = X.shape[0]
    dW = torch.zeros_like(W)
    loss = W.new_zeros(())
    labels = y.tolist()
    for i in range(num_train):
        xi = X[i]
        s = xi @ W
        s = s - s.max()
        e = s.exp()
        z = e.sum()
        loss += z.log() - s[labels[i]]
        e /= z
        e[labels[i]] -= 1
        dW += torch.outer(xi, e)
    loss = loss / num_train + reg * (W * W).sum()
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    idx = torch.arange(num_train, device=X.device)
    scores = X @ W
    lse = scores.logsumexp(1, keepdim=True)
    loss = (lse[:, 0] - scores[idx, y]).mean() + reg * (W * W).sum()
    dscores = torch.exp(scores - lse)
    dscores[idx, y] -= 1
    dW = X.T @ dscores / num_train + 2 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(num_train, size=(batch_size,), device=X.device)
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
        loss_history += [loss.item()]
        W -= learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    return torch.max(X @ W, dim=1).indices


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [1e-3 * k for k in (1.0, 3.0, 10.0)]
    regularization_strengths = [1e-2 * k for k in (1.0, 10.0)]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [1e-2 * k for k in (1.0, 2.0)]
    regularization_strengths = [1e-4 * k for k in (1.0, 10.0, 100.0)]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)

    def accuracy(X, y):
        return (cls.predict(X) == y).double().mean().item()

    train_acc = accuracy(data_dict["X_train"], data_dict["y_train"])
    val_acc = accuracy(data_dict["X_val"], data_dict["y_val"])
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


