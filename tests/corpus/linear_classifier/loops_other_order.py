"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "loops_other_order": naive losses compute each score with
``torch.dot(X[i], W[:, j])`` inside the loop over classes; gradients are
accumulated column by column with ``dW[:, j] += ...``; vectorized losses use
``torch.einsum`` (SVM) and the ``@`` operator (Softmax).

* svm_loss_naive: for i, the correct score ``torch.dot(X[i], W[:, y_i])``
  once, then for j a ``torch.dot`` per class; ``max(0, margin)`` summed.
* svm_loss_vectorized: ``torch.einsum('nd,dc->nc')`` for the scores,
  ``torch.relu`` of the margins (torch.relu is a torch function, not
  torch.nn), indicator via ``(margins > 0) * 1.0`` multiplied into a tensor of
  X's dtype, ``torch.einsum('nd,nc->dc')`` for the gradient.
* softmax_loss_naive: scores row built by a loop of ``torch.dot``s into a
  preallocated vector, manual max shift, then ``dW[:, j] += (p_j - [j == y_i]) * X[i]``.
* softmax_loss_vectorized: ``X @ W``, stable log-softmax, ``X.T @ dS``.
* sample_batch: positional ``torch.randint(0, num_train, [batch_size])``.
* train_linear_classifier: ``W.sub_(grad, alpha=learning_rate)``; ``float(loss.item())``.
* predict_linear_classifier: ``(X @ W).argmax(dim=1)``.
* test_one_param_set: ``float((pred == y).sum()) / y.numel()``.
* search grids: list comprehensions of Python floats.
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    N = X.shape[0]
    C = W.shape[1]
    loss = torch.zeros([], dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    for i in range(N):
        yi = int(y[i])
        correct_score = torch.dot(X[i], W[:, yi])
        for j in range(C):
            if j == yi:
                continue
            margin = torch.dot(X[i], W[:, j]) - correct_score + 1
            if margin.item() > 0:
                loss = loss + margin
                dW[:, j] += X[i]
                dW[:, yi] += -X[i]
    loss = loss / N
    dW = dW / N
    loss = loss + reg * torch.sum(W * W)
    dW = dW + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    ar = torch.arange(N, device=X.device)
    scores = torch.einsum("nd,dc->nc", X, W)
    correct = scores[ar, y][:, None]
    margins = torch.relu(scores - correct + 1)
    margins[ar, y] = 0
    loss = torch.sum(margins) / N + reg * torch.sum(W * W)
    ind = torch.zeros_like(margins)
    ind += (margins > 0)
    ind[ar, y] -= torch.sum(ind, dim=1)
    dW = torch.einsum("nd,nc->dc", X, ind) / N + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N = X.shape[0]
    C = W.shape[1]
    loss = torch.zeros([], dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    for i in range(N):
        s = torch.empty(C, dtype=W.dtype, device=W.device)
        for j in range(C):
            s[j] = torch.dot(X[i], W[:, j])
        s = s - torch.max(s)
        denom = torch.sum(torch.exp(s))
        yi = int(y[i])
        loss = loss + torch.log(denom) - s[yi]
        for j in range(C):
            p_j = torch.exp(s[j]) / denom
            if j == yi:
                dW[:, j] += (p_j - 1) * X[i]
            else:
                dW[:, j] += p_j * X[i]
    loss = loss / N + reg * torch.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    ar = torch.arange(N, device=X.device)
    s = X @ W
    s = s - s.max(dim=1, keepdim=True)[0]
    log_z = s.exp().sum(dim=1).log()
    loss = (log_z - s[ar, y]).sum() / N + reg * (W * W).sum()
    dS = (s - log_z[:, None]).exp()
    dS[ar, y] -= 1
    dS /= N
    dW = X.T @ dS + 2 * reg * W
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    batch_idx = torch.randint(0, num_train, [batch_size], device=X.device)
    return X[batch_idx], y[batch_idx]


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
        loss_history.append(float(loss.item()))
        W.sub_(grad, alpha=learning_rate)

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    return (X @ W).argmax(dim=1)


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [10.0 ** e for e in (-3, -2.5, -2)]
    regularization_strengths = [10.0 ** e for e in (-2, -1)]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [c * 1e-2 for c in (1.0, 2.0, 3.0)]
    regularization_strengths = [1e-3, 1e-2]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    y_train = data_dict["y_train"]
    y_val = data_dict["y_val"]
    train_acc = float((cls.predict(data_dict["X_train"]) == y_train).sum()) / y_train.numel()
    val_acc = float((cls.predict(data_dict["X_val"]) == y_val).sum()) / y_val.numel()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


