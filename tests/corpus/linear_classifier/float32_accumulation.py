"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "float32_accumulation": every sum is accumulated in a tensor of
the inputs' dtype (float32 stays float32), the loss is always a 0-dim tensor
created with ``torch.zeros((), dtype=W.dtype, device=W.device)``.

* svm_loss_naive: scores precomputed as X @ W, then loops with the classes
  OUTER (j) and the examples INNER (i); hinge accumulated into a 0-dim tensor.
* svm_loss_vectorized: fully in place on the (N, C) matrix: gather the
  correct scores, ``sub_``/``add_``/``clamp_``, zero the correct class,
  ``sign_()`` turns the nonnegative margins into the 0/1 mask, row counts
  written at the correct class, ``torch.mm(X.t(), coeff)``.
* softmax_loss_naive: first loop over examples builds the probability rows
  (max-shifted, loss as log-sum-exp minus correct score), then classes outer,
  examples inner for the gradient.
* softmax_loss_vectorized: in place ``sub_`` max, ``exp_``, ``div_``;
  loss from ``log(sum) - shifted correct score``.
* sample_batch: ``torch.randint(num_train, (batch_size,))`` + ``index_select``.
* train_linear_classifier: ``float(loss)`` and ``W.sub_(learning_rate * grad)``.
* predict_linear_classifier: ``scores.max(dim=1).indices``.
* test_one_param_set: ``(pred == y).sum().item() / y.shape[0]``.
* search grids: Python lists.
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops.

    Classes outer, examples inner; all sums kept in W's dtype.
    """
    N = X.shape[0]
    C = W.shape[1]
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    scores = X @ W  # (N, C)
    for j in range(C):
        for i in range(N):
            yi = int(y[i])
            if j == yi:
                continue
            margin = scores[i, j] - scores[i, yi] + 1.0
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, yi] -= X[i]
    loss /= N
    dW /= N
    loss += reg * torch.sum(W * W)
    dW += (2 * reg) * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    coeff = torch.mm(X, W)  # scores, then margins, then the coefficients
    correct = coeff[rows, y].unsqueeze(1)
    coeff.sub_(correct).add_(1.0).clamp_(min=0.0)
    coeff[rows, y] = 0.0
    loss = coeff.sum() / N + reg * torch.sum(W * W)
    coeff.sign_()  # margins are >= 0: 1 where positive, 0 elsewhere
    coeff[rows, y] = -coeff.sum(dim=1)
    dW = torch.mm(X.t(), coeff)
    dW.div_(N)
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N = X.shape[0]
    C = W.shape[1]
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    probs = torch.zeros(N, C, dtype=W.dtype, device=W.device)
    for i in range(N):
        s = X[i] @ W
        s = s - s.max()
        e = torch.exp(s)
        total = e.sum()
        loss += torch.log(total) - s[y[i]]
        probs[i] = e / total
    for j in range(C):
        for i in range(N):
            coef = probs[i, j]
            if j == int(y[i]):
                coef = coef - 1.0
            dW[:, j] += coef * X[i]
    loss /= N
    dW /= N
    loss += reg * torch.sum(W * W)
    dW += (2 * reg) * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    s = torch.mm(X, W)
    s.sub_(s.max(dim=1, keepdim=True).values)
    correct = s[rows, y]
    s.exp_()
    sums = s.sum(dim=1, keepdim=True)
    loss = (torch.log(sums).squeeze(1) - correct).sum() / N
    loss = loss + reg * torch.sum(W * W)
    s.div_(sums)
    s[rows, y] -= 1.0
    s.div_(N)
    dW = torch.mm(X.t(), s)
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X.index_select(0, idx)
    y_batch = y.index_select(0, idx)
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
        loss_history.append(float(loss))
        W.sub_(learning_rate * grad)

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    scores = torch.mm(X, W)
    y_pred = scores.max(dim=1).indices
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [3e-3, 5e-3]
    regularization_strengths = [3e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [1e-2, 2e-2, 3e-2]
    regularization_strengths = [1e-4, 1e-3]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    y_tr = data_dict["y_train"]
    y_va = data_dict["y_val"]
    train_acc = (cls.predict(data_dict["X_train"]) == y_tr).sum().item() / y_tr.shape[0]
    val_acc = (cls.predict(data_dict["X_val"]) == y_va).sum().item() / y_va.shape[0]
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


