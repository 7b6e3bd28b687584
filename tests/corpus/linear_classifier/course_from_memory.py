"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "course_from_memory": EECS 498 A2 as a student remembers it,
with the course's names (``num_train``, ``num_classes``,
``correct_class_score``) and its habits: ``loss /= num_train`` and
``dW /= num_train`` first, then ``loss += reg * torch.sum(W * W)`` and
``dW += 2 * reg * W``.

* svm_loss_naive: loops over i then j, ``if margin > 0`` adds the margin
  and ``dW[:, j] += X[i]``; the positive margins are counted and
  ``dW[:, y[i]] -= count * X[i]`` is done once after the class loop.
* svm_loss_vectorized: ``torch.clamp(..., min=0)`` of the margins, the
  correct class set to 0 by indexing, the mask built as
  ``mask = torch.zeros_like(margins); mask[margins > 0] = 1``, then
  ``mask[rows, y] = -mask.sum(dim=1)``, ``X.t().mm(mask)``.
* softmax_loss_naive: per example ``scores -= scores.max()``,
  ``loss += -scores[y[i]] + torch.log(sum_exp)``, class loop
  ``dW[:, j] += torch.exp(scores[j]) / sum_exp * X[i]`` and
  ``dW[:, y[i]] -= X[i]`` after it.
* softmax_loss_vectorized: ``scores.max(dim=1, keepdim=True)[0]`` (tuple
  indexing), ``log_probs = scores - torch.log(sum_exp)``,
  ``-log_probs[rows, y].sum() / num_train``; ``dscores = exp_scores / sum_exp``
  then ``dscores[rows, y] -= 1``.
* sample_batch: ``torch.randint(0, num_train, (batch_size,), device=X.device)``,
  ``X[idx, :]`` and ``y[idx]``.
* train_linear_classifier: ``loss_history.append(loss.item())``,
  ``W -= learning_rate * grad``.
* predict_linear_classifier: tuple unpacking ``_, y_pred = X.mm(W).max(dim=1)``.
* test_one_param_set: ``float(torch.sum(pred == y)) / X.shape[0]`` per split.
* search grids: 4 x 4 Python lists of factor-3 steps (16 combinations).
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    dW = torch.zeros_like(W)

    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = W.t().mv(X[i])
        correct_class_score = scores[y[i]]
        count = 0
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                count += 1
        dW[:, y[i]] -= count * X[i]

    loss /= num_train
    dW /= num_train

    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W

    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)

    scores = X.mm(W)
    correct_class_score = scores[rows, y].view(-1, 1)
    margins = torch.clamp(scores - correct_class_score + 1, min=0)
    margins[rows, y] = 0
    loss = margins.sum()
    loss /= num_train
    loss += reg * torch.sum(W * W)

    mask = torch.zeros_like(margins)
    mask[margins > 0] = 1
    mask[rows, y] = -mask.sum(dim=1)
    dW = X.t().mm(mask)
    dW /= num_train
    dW += 2 * reg * W

    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    loss = 0.0
    dW = torch.zeros_like(W)

    num_train = X.shape[0]
    num_classes = W.shape[1]
    for i in range(num_train):
        scores = W.t().mv(X[i])
        scores -= scores.max()
        sum_exp = torch.sum(torch.exp(scores))
        loss += -scores[y[i]] + torch.log(sum_exp)
        for j in range(num_classes):
            dW[:, j] += torch.exp(scores[j]) / sum_exp * X[i]
        dW[:, y[i]] -= X[i]

    loss /= num_train
    dW /= num_train

    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W

    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)

    scores = X.mm(W)
    scores -= scores.max(dim=1, keepdim=True)[0]
    exp_scores = torch.exp(scores)
    sum_exp = exp_scores.sum(dim=1, keepdim=True)
    log_probs = scores - torch.log(sum_exp)
    loss = -log_probs[rows, y].sum() / num_train
    loss += reg * torch.sum(W * W)

    dscores = exp_scores / sum_exp
    dscores[rows, y] -= 1
    dW = X.t().mm(dscores)
    dW /= num_train
    dW += 2 * reg * W

    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(0, num_train, (batch_size,), device=X.device)
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

        # evaluate loss and gradient
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(loss.item())

        # perform parameter update
        W -= learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    _, y_pred = X.mm(W).max(dim=1)
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [1e-3, 3e-3, 1e-2, 3e-2]
    regularization_strengths = [1e-2, 3e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [3e-3, 1e-2, 3e-2, 1e-1]
    regularization_strengths = [3e-4, 1e-3, 3e-3, 1e-2]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict['X_train'], data_dict['y_train'], lr, reg, num_iters)

    y_train_pred = cls.predict(data_dict['X_train'])
    train_acc = float(torch.sum(y_train_pred == data_dict['y_train'])) / data_dict['X_train'].shape[0]

    y_val_pred = cls.predict(data_dict['X_val'])
    val_acc = float(torch.sum(y_val_pred == data_dict['y_val'])) / data_dict['X_val'].shape[0]

    return cls, train_acc, val_acc
