"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "lean_and_builtin": a lean naive softmax (loop over the
examples only, as the docstring allows: "and, if you like, the classes"),
top-level torch builtins (torch.log_softmax / torch.softmax are torch ops,
not torch.nn.functional), the "subtract delta" trick for the SVM, and a grid
of exactly 25 combinations (the maximum allowed).

* svm_loss_naive: loops over i and j; margins compared as Python floats
  from ``scores.tolist()``; ``dW[:, j].add_(X[i])`` / ``dW[:, y_i].sub_(X[i])``.
* svm_loss_vectorized: correct class NOT masked: every row's correct-class
  margin is exactly max(0, 1) = 1, so loss = (sum of clamped margins - N) / N;
  coefficient matrix ``(margins > 0)`` as W's dtype with the correct class
  replaced by minus the count of the other positive margins.
* softmax_loss_naive: one loop over examples: ``torch.logsumexp`` of the
  row, probabilities ``exp(s - lse)``, ``p[y_i] -= 1``, ``dW.addr_(X[i], p)``.
* softmax_loss_vectorized: ``torch.log_softmax(scores, dim=1)`` for the
  loss (gathered at the labels), ``torch.softmax`` for the gradient.
* sample_batch: ``torch.randint`` then ``X[idx]`` / ``y[idx]`` in one return.
* train_linear_classifier: out of place ``W = torch.add(W, grad, alpha=-lr)``.
* predict_linear_classifier: ``torch.topk(X @ W, 1, dim=1).indices[:, 0]``.
* test_one_param_set: ``torch.sum(pred == y).item() / len(y)``.
* search grids: SVM 5 x 5 = 25 combinations, Softmax 2 x 3.
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for i in range(num_train):
        row = X[i] @ W
        s = row.tolist()
        yi = int(y[i])
        for j in range(num_classes):
            if j != yi and s[j] - s[yi] + 1 > 0:
                loss += row[j] - row[yi] + 1
                dW[:, j].add_(X[i])
                dW[:, yi].sub_(X[i])
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X @ W
    margins = (scores - scores[rows, y].unsqueeze(1) + 1).clamp_(min=0)
    # the correct class contributes max(0, 0 + 1) = 1 per row: remove it
    loss = (margins.sum() - num_train) / num_train + reg * torch.sum(W * W)
    coeff = torch.zeros_like(margins)
    coeff[margins > 0] = 1
    coeff[rows, y] = 0
    coeff[rows, y] = -coeff.sum(dim=1)
    dW = X.t() @ coeff / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    num_train = X.shape[0]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for i in range(num_train):
        s = X[i] @ W
        lse = torch.logsumexp(s, dim=0)
        loss += lse - s[y[i]]
        p = torch.exp(s - lse)
        p[y[i]] -= 1
        dW.addr_(X[i], p)
    loss = loss / num_train + reg * torch.sum(W * W)
    dW = dW / num_train + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X @ W
    log_p = torch.log_softmax(scores, dim=1)
    loss = -log_p[rows, y].mean() + reg * torch.sum(W * W)
    dS = torch.softmax(scores, dim=1)
    dS[rows, y] -= 1
    dS /= num_train
    dW = X.t() @ dS + 2 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(0, num_train, (batch_size,), device=X.device)
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
        W = torch.add(W, grad, alpha=-learning_rate)

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    y_pred = torch.topk(X @ W, 1, dim=1).indices[:, 0]
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2]
    regularization_strengths = [1e-3, 1e-2, 3e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [1e-2, 2e-2]
    regularization_strengths = [1e-4, 1e-3, 1e-2]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    pred_train = cls.predict(data_dict["X_train"])
    pred_val = cls.predict(data_dict["X_val"])
    train_acc = torch.sum(pred_train == data_dict["y_train"]).item() / len(data_dict["y_train"])
    val_acc = torch.sum(pred_val == data_dict["y_val"]).item() / len(data_dict["y_val"])
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


