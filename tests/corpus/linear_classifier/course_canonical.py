"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "course_canonical": the classic EECS 498 / CS231n A2 style.

* svm_loss_naive: loops over i then j, ``if margin > 0`` accumulates the loss
  and ``dW[:, j] += X[i]`` / ``dW[:, y[i]] -= X[i]``; loss starts as 0.0.
* svm_loss_vectorized: ``X.mm(W)``, margins clamped and masked at the
  correct class, then ``margins[margins > 0] = 1`` binary matrix with the
  row sums subtracted at the correct class, ``X.t().mm(binary)``.
* softmax_loss_naive: per example, ``scores -= scores.max()``, exp / sum,
  ``loss += -log(probs[y[i]])``, inner loop over classes for the gradient.
* softmax_loss_vectorized: scores - max, exp / sum, then
  ``-log(probs[range(N), y])`` (can underflow to inf for a huge gap; kept on
  purpose: it is the course's canonical idiom), ``dscores[range(N), y] -= 1``.
* sample_batch: ``torch.randint(0, num_train, (batch_size,), device=...)``.
* train_linear_classifier: ``loss.item()`` and ``W -= learning_rate * grad``.
* predict_linear_classifier: ``torch.argmax(X.mm(W), dim=1)``.
* test_one_param_set: ``(pred == y).float().mean()`` (a float32 0-dim tensor).
* search grids: Python lists.
"""

import torch


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    dW = torch.zeros_like(W)  # initialize the gradient as zero

    # compute the loss and the gradient
    num_classes = W.shape[1]
    num_train = X.shape[0]
    loss = 0.0
    for i in range(num_train):
        scores = W.t().mv(X[i])
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1  # note delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]

    # Right now the loss is a sum over all training examples, but we want it
    # to be an average instead so we divide by num_train.
    loss /= num_train
    dW /= num_train

    # Add regularization to the loss.
    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W

    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    loss = 0.0
    dW = torch.zeros_like(W)  # initialize the gradient as zero

    num_train = X.shape[0]
    rows = torch.arange(num_train, device=X.device)
    scores = X.mm(W)
    correct_class_scores = scores[rows, y].view(-1, 1)
    margins = scores - correct_class_scores + 1
    margins[margins < 0] = 0
    margins[rows, y] = 0
    loss = margins.sum() / num_train
    loss += reg * torch.sum(W * W)

    binary = margins
    binary[margins > 0] = 1
    row_sum = binary.sum(dim=1)
    binary[rows, y] = -row_sum
    dW = X.t().mm(binary)
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
        exp_scores = torch.exp(scores)
        probs = exp_scores / exp_scores.sum()
        loss += -torch.log(probs[y[i]])
        for j in range(num_classes):
            dW[:, j] += probs[j] * X[i]
            if j == y[i]:
                dW[:, j] -= X[i]

    loss /= num_train
    dW /= num_train
    loss += reg * torch.sum(W * W)
    dW += 2 * reg * W

    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    loss = 0.0
    dW = torch.zeros_like(W)

    num_train = X.shape[0]
    scores = X.mm(W)
    scores -= scores.max(dim=1, keepdim=True).values
    exp_scores = torch.exp(scores)
    probs = exp_scores / exp_scores.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[range(num_train), y]).sum()
    loss /= num_train
    loss += reg * torch.sum(W * W)

    dscores = probs
    dscores[range(num_train), y] -= 1
    dscores /= num_train
    dW = X.t().mm(dscores)
    dW += 2 * reg * W

    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    X_batch = None
    y_batch = None
    indices = torch.randint(0, num_train, (batch_size,), device=X.device)
    X_batch = X[indices]
    y_batch = y[indices]
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
    y_pred = torch.zeros(X.shape[0], dtype=torch.int64, device=X.device)
    y_pred = torch.argmax(X.mm(W), dim=1)
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = []
    regularization_strengths = []
    learning_rates = [1e-3, 5e-3, 1e-2]
    regularization_strengths = [1e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = []
    regularization_strengths = []
    learning_rates = [5e-3, 1e-2, 2e-2]
    regularization_strengths = [1e-3, 5e-3, 1e-2]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict['X_train'], data_dict['y_train'], lr, reg, num_iters)

    y_train_pred = cls.predict(data_dict['X_train'])
    train_acc = (y_train_pred == data_dict['y_train']).float().mean()

    y_val_pred = cls.predict(data_dict['X_val'])
    val_acc = (y_val_pred == data_dict['y_val']).float().mean()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


