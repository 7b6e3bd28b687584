"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "coeff_row_heaviside": the naive losses build one coefficient
row per example inside the class loop and apply it with a single
``torch.outer``; the loss is a 0-dim tensor from ``W.new_zeros(())`` updated
out of place (``loss = loss + margin``) and returned as that tensor.

* svm_loss_naive: loop over i, then over j (``continue`` at y_i);
  ``if margin > 0`` adds +1 at j and -1 at y_i of a per-example coefficient
  row (``torch.zeros(C, dtype, device)``); ``dW.add_(torch.outer(X[i], coeff))``.
* svm_loss_vectorized: ``torch.mm``, margins with the correct class zeroed by
  ``scatter_(1, y[:, None], 0)``, ``clamp_(min=0)``, the 0/1 coefficient
  matrix from ``torch.heaviside(margins, zeros)`` (keeps the dtype), the row
  counts written with ``scatter_`` of their negatives.
* softmax_loss_naive: loop over examples and over classes: the shifted
  exponentials summed by a Python loop over the classes into a 0-dim tensor,
  loss ``log(z) - (s_y - m)``; gradient ``dW += torch.outer(X[i], p)`` then
  ``dW.index_add_(1, y[i:i+1], -X[i:i+1].T)`` subtracts X[i] at column y_i.
* softmax_loss_vectorized: hand-written log-sum-exp, ``torch.take_along_dim``
  for the correct-class shifted scores, probabilities ``exp_`` in place, the
  -1 at the labels with ``scatter_add_`` of a ``full`` column.
* sample_batch: ``torch.randint(0, num_train, (batch_size,), device=X.device)``,
  ``torch.index_select`` on both tensors.
* train_linear_classifier: ``loss.tolist()`` (a 0-dim tensor gives a Python
  float) and out of place ``W = W - learning_rate * grad``.
* predict_linear_classifier: ``torch.argmax(..., dim=1, keepdim=True).view(-1)``.
* test_one_param_set: ``(pred == y).sum(dtype=torch.float64).item() / y.numel()``.
* search grids: lists written out by hand (SVM 3 x 3, Softmax 3 x 2).
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    N = X.shape[0]
    C = W.shape[1]
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)
    for i in range(N):
        s = X[i] @ W
        yi = int(y[i])
        coeff = torch.zeros(C, dtype=W.dtype, device=W.device)
        for j in range(C):
            if j == yi:
                continue
            margin = s[j] - s[yi] + 1
            if margin > 0:
                loss = loss + margin
                coeff[j] += 1
                coeff[yi] -= 1
        dW.add_(torch.outer(X[i], coeff))
    loss = loss / N + reg * torch.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    scores = torch.mm(X, W)
    labels = y.view(-1, 1)
    correct = scores.gather(1, labels)
    margins = scores.sub_(correct).add_(1)
    margins.scatter_(1, labels, 0)
    margins.clamp_(min=0)
    loss = margins.sum() / N + reg * torch.sum(W * W)

    zero = torch.zeros((), dtype=margins.dtype, device=margins.device)
    coeff = torch.heaviside(margins, zero)
    counts = coeff.sum(dim=1, keepdim=True)
    coeff.scatter_(1, labels, -counts)
    dW = torch.mm(X.t(), coeff) / N + 2 * reg * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N = X.shape[0]
    C = W.shape[1]
    loss = W.new_zeros(())
    dW = torch.zeros_like(W)
    for i in range(N):
        s = X[i] @ W
        m = s.max()
        z = W.new_zeros(())
        for j in range(C):
            z = z + torch.exp(s[j] - m)
        yi = int(y[i])
        loss = loss + torch.log(z) - (s[yi] - m)
        p = torch.exp(s - m) / z
        dW += torch.outer(X[i], p)
        dW.index_add_(1, y[i:i + 1], -X[i:i + 1].T)
    loss = loss / N + reg * torch.sum(W * W)
    dW = dW / N + 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    scores = X @ W
    scores -= scores.max(dim=1, keepdim=True).values
    labels = y[:, None]
    correct = torch.take_along_dim(scores, labels, dim=1).squeeze(1)
    probs = scores.exp_()
    z = probs.sum(dim=1, keepdim=True)
    loss = (torch.log(z).squeeze(1) - correct).mean() + reg * torch.sum(W * W)

    probs /= z
    minus_one = torch.full((N, 1), -1.0, dtype=probs.dtype, device=probs.device)
    probs.scatter_add_(1, labels, minus_one)
    probs /= N
    dW = X.T @ probs + 2 * reg * W
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
        loss_history.append(loss.tolist())
        W = W - learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    y_pred = torch.argmax(X @ W, dim=1, keepdim=True).view(-1)
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [2e-3, 5e-3, 1e-2]
    regularization_strengths = [3e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [5e-3, 1e-2, 3e-2]
    regularization_strengths = [2e-3, 5e-3]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    cls.train(data_dict['X_train'], data_dict['y_train'], lr, reg, num_iters)

    def fraction_correct(X, y):
        pred = cls.predict(X)
        return (pred == y).sum(dtype=torch.float64).item() / y.numel()

    train_acc = fraction_correct(data_dict['X_train'], data_dict['y_train'])
    val_acc = fraction_correct(data_dict['X_val'], data_dict['y_val'])
    return cls, train_acc, val_acc
