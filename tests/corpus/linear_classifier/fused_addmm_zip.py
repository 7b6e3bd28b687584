"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "fused_addmm_zip": naive losses iterate the tensors directly
(``for x_i, y_i in zip(X, y)``, y_i a 0-dim int64 tensor); vectorized losses
fold the regularization gradient into the gradient's matrix product with
``torch.addmm(W, X.t(), coeff, beta=2 * reg, alpha=1 / N)`` (a new tensor, W
untouched) and compute the penalty as ``torch.dot(W.flatten(), W.flatten())``.

* svm_loss_naive: ``x_i @ W`` per example, ``for j in range(C)``,
  ``if j == y_i: continue`` (comparing with the 0-dim tensor), margins
  accumulated as 0-dim tensors via ``torch.clamp(margin, min=0)`` summed for
  every wrong class, gradient ``dW[:, j] += x_i`` / ``dW[:, y_i] -= x_i``
  under ``if margin > 0``; ``loss.div_(N)`` on the loss tensor.
* svm_loss_vectorized: scores with plain ``X.mm(W)``, the correct-class
  scores ``scores[rows, y].unsqueeze(1)``; margins via ``torch.clamp_min_``;
  correct class zeroed with ``index_put_``; the 0/1 mask as
  ``margins.sign()``; counts subtracted with ``index_put_(accumulate=True)``.
* softmax_loss_naive: per example ``s - s.max()``, ``log_z =
  torch.log(torch.exp(s).sum())``, ``loss -= s[y_i] - log_z``, and an inner
  loop over the classes ``dW[:, j] += (p[j] - float(j == y_i)) * x_i``.
* softmax_loss_vectorized: in place ``sub_`` of the row max, the
  correct-class scores read before ``exp_``, ``log`` of the row sums,
  ``div_``, ``probs[rows, y] -= 1``; gradient and its 2 * reg * W term in one
  ``torch.addmm``.
* sample_batch: ``torch.randint(0, num_train, (batch_size,), device=X.device)``
  returned as ``X[idx], y[idx]`` in one line.
* train_linear_classifier: ``with torch.no_grad():`` around the loop,
  ``float(loss)`` and ``torch.sub(W, grad, alpha=learning_rate, out=W)``.
* predict_linear_classifier: ``torch.argsort(scores, dim=1,
  descending=True, stable=True)[:, 0]``.
* test_one_param_set: ``torch.mean(pred == y, dtype=torch.float64).item()``.
* search grids: ``sorted`` of sets of floats (lists).
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    N, C = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for x_i, y_i in zip(X, y):
        scores = x_i @ W
        for j in range(C):
            if j == y_i:
                continue
            margin = scores[j] - scores[y_i] + 1
            loss += torch.clamp(margin, min=0)
            if margin > 0:
                dW[:, j] += x_i
                dW[:, y_i] -= x_i
    loss.div_(N)
    loss += reg * torch.dot(W.flatten(), W.flatten())
    dW /= N
    dW += 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = X.mm(W)
    correct = scores[rows, y].unsqueeze(1)
    margins = torch.clamp_min_(scores - correct + 1, 0)
    margins.index_put_((rows, y), torch.zeros((), dtype=margins.dtype, device=margins.device))
    loss = margins.sum() / N + reg * torch.dot(W.flatten(), W.flatten())

    coeff = margins.sign()
    coeff.index_put_((rows, y), -coeff.sum(dim=1), accumulate=True)
    dW = torch.addmm(W, X.t(), coeff, beta=2 * reg, alpha=1.0 / N)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N, C = X.shape[0], W.shape[1]
    dW = torch.zeros_like(W)
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    for x_i, y_i in zip(X, y):
        s = x_i @ W
        s = s - s.max()
        log_z = torch.log(torch.exp(s).sum())
        loss -= s[y_i] - log_z
        p = torch.exp(s - log_z)
        for j in range(C):
            dW[:, j] += (p[j] - float(j == y_i)) * x_i
    loss /= N
    loss += reg * torch.dot(W.flatten(), W.flatten())
    dW /= N
    dW += 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = X.mm(W)
    scores.sub_(scores.max(dim=1, keepdim=True).values)
    correct = scores[rows, y]
    probs = scores.exp_()
    sums = probs.sum(dim=1)
    loss = (sums.log() - correct).mean() + reg * torch.dot(W.flatten(), W.flatten())

    probs.div_(sums.unsqueeze(1))
    probs[rows, y] -= 1
    dW = torch.addmm(W, X.t(), probs, beta=2 * reg, alpha=1.0 / N)
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
    with torch.no_grad():
        for it in range(num_iters):
            X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
            loss, grad = loss_func(W, X_batch, y_batch, reg)
            loss_history.append(float(loss))
            torch.sub(W, grad, alpha=learning_rate, out=W)

            if verbose and it % 100 == 0:
                print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    scores = X.mm(W)
    y_pred = torch.argsort(scores, dim=1, descending=True, stable=True)[:, 0]
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = sorted({1e-3, 3e-3, 1e-2})
    regularization_strengths = sorted({1e-2, 5e-2, 1e-1, 3e-1})
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = sorted({1e-2, 2e-2})
    regularization_strengths = sorted({1e-3, 3e-3, 1e-2})
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    cls.train(data_dict['X_train'], data_dict['y_train'], lr, reg, num_iters)
    train_pred = cls.predict(data_dict['X_train'])
    val_pred = cls.predict(data_dict['X_val'])
    train_acc = torch.mean(train_pred == data_dict['y_train'], dtype=torch.float64).item()
    val_acc = torch.mean(val_pred == data_dict['y_val'], dtype=torch.float64).item()
    return cls, train_acc, val_acc
