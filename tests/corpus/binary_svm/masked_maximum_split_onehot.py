"""Student implementation "masked_maximum_split_onehot" (corpus variant C).

Styles: to_pm1_labels = -ones then boolean-mask assignment of +1;
normalize = torch.std_mean(X_train, dim=0) (unbiased) and a list;
hinge_loss = torch.maximum(margin, 0) with sum / N and lam * torch.norm(W)**2;
train_binary_svm = torch.split(perm, batch_size), in-place W.sub_() under
no_grad, W.grad.zero_(); svm_predict = ones then mask assignment of -1;
train_one_vs_all = loop writing W[:, c].copy_() into the preallocated
tensors; predict_* = .max(dim=1)[1]; per_class_accuracy = loop with
counts and hits and a Python list turned into a float64 tensor;
softmax_cross_entropy = explicit log-softmax (shifted - log sum exp shifted)
and a hand-made one-hot (scatter) for the negative log-likelihood;
train_softmax_regression = same loop as the SVM with a helper for the step.

Part 4: CIFAR-10 from scratch: a binary soft-margin SVM, one-vs-all and softmax regression.

You implement, with plain PyTorch tensor operations and autograd:

* label conversion to {-1, +1} and feature normalisation with TRAINING
  statistics only;
* the soft-margin hinge loss with an L2 penalty, and SGD training of a binary
  linear SVM with it;
* one-vs-all: ten binary SVMs (class c against the rest), prediction by the
  highest score, per-class accuracies;
* a numerically stable ``softmax_cross_entropy`` (log-softmax and negative
  log-likelihood in one) and multinomial logistic regression trained with it.

Conventions used everywhere in this file:

* ``X`` has shape ``(N, D)``, floating point, one example per row (no bias
  column: the bias ``b`` is a separate parameter). ``D = 3072`` for CIFAR-10.
* A binary model is ``W`` of shape ``(D,)`` and ``b`` a 0-dimensional tensor;
  its scores are ``X @ W + b``. A multiclass model is ``W`` of shape
  ``(D, C)`` and ``b`` of shape ``(C,)``; its scores are ``X @ W + b``.
* Class labels ``y`` have shape ``(N,)``, dtype ``torch.int64``, values in
  ``0..C-1``. Binary SVM labels are ``-1.0`` / ``+1.0`` (never 0 / 1).
* Gradients come from autograd (``loss.backward()``); the losses must be
  built from torch operations so autograd can differentiate them.
* Do not use ``torch.nn``, ``torch.nn.functional``, ``torch.softmax``,
  ``torch.log_softmax``, ``torch.logsumexp`` or torch's loss functions in
  this file: the point is to write them yourself.
* Do not modify input tensors in place. Keep the dtype and device of ``X``.
"""

import torch


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------


def to_pm1_labels(y, positive_class, dtype=torch.float32):
    """Binary SVM labels for "positive_class against the rest".

    Inputs:
    - y: torch.Tensor of shape (N,), int64, class labels.
    - positive_class: int, the class that gets the label +1.
    - dtype: the floating dtype of the result.

    Returns:
    - torch.Tensor of shape (N,), ``dtype``, on y's device: +1.0 where
      ``y == positive_class`` and -1.0 everywhere else. The hinge loss needs
      -1 for the negative class: with 0 the negatives would have no margin.
    """
    labels = -torch.ones(y.shape, dtype=dtype, device=y.device)
    labels[y == positive_class] = 1.0
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    """Standardise every feature with the mean and standard deviation of the TRAINING set.

    Inputs:
    - X_train: torch.Tensor of shape (N_train, D), floating point.
    - X_val: torch.Tensor of shape (N_val, D).
    - X_test: torch.Tensor of shape (N_test, D).
    - eps: float added to the standard deviation (constant pixels have 0).

    Returns a tuple of three new tensors (same shapes, dtype and device):
    ``(X - mean) / (std + eps)`` for X_train, X_val and X_test, where
    ``mean = X_train.mean(dim=0)`` and ``std = X_train.std(dim=0)`` come from
    the training rows only. Validation and test data stand for examples you
    have never seen: their statistics must not leak into the preprocessing.
    """
    std, mean = torch.std_mean(X_train, dim=0)
    out = []
    for X in (X_train, X_val, X_test):
        out.append((X - mean) / (std + eps))
    out = tuple(out)
    return out


# ---------------------------------------------------------------------------
# Binary soft-margin SVM
# ---------------------------------------------------------------------------


def hinge_loss(scores, labels, W, lam):
    """Soft-margin SVM objective: mean hinge loss plus an L2 penalty on W.

    ``loss = mean_i max(0, 1 - labels[i] * scores[i]) + lam * sum(W * W)``
    (the bias is not penalised).

    Inputs:
    - scores: torch.Tensor of shape (N,), the scores ``X @ W + b``.
    - labels: torch.Tensor of shape (N,), values -1.0 / +1.0, scores' dtype.
    - W: torch.Tensor of shape (D,) (or (D, C)), the weights.
    - lam: float, the regularisation strength.

    Returns:
    - a 0-dimensional tensor of scores' dtype, differentiable by autograd with
      respect to scores and W.
    """
    n = scores.shape[0]
    margin = 1.0 - labels * scores
    zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
    data_loss = torch.maximum(margin, zero).sum() / n
    reg_loss = lam * torch.norm(W) ** 2
    loss = data_loss + reg_loss
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    """Train a binary linear SVM with minibatch SGD on ``hinge_loss``.

    Inputs:
    - X: torch.Tensor of shape (N, D), floating point.
    - labels: torch.Tensor of shape (N,), -1.0 / +1.0 (see to_pm1_labels).
    - lam, learning_rate: floats; num_epochs, batch_size: ints.

    Returns a tuple of:
    - W: torch.Tensor of shape (D,), X's dtype, detached (no gradient).
    - b: 0-dimensional tensor, X's dtype, detached.
    - loss_history: list of Python floats, one per minibatch, each recorded
      before that minibatch's update.

    Start from ``W = 0`` and ``b = 0`` (tensors with requires_grad=True).
    Each epoch draws a new order with ``torch.randperm(N, device=X.device)``
    and walks through it in minibatches of ``batch_size`` (the last one may be
    smaller). For each minibatch: ``loss = hinge_loss(X_b @ W + b, labels_b,
    W, lam)``, ``loss.backward()``, then under ``torch.no_grad()`` the plain
    SGD step ``W -= learning_rate * W.grad`` (same for b) and reset the
    gradients to zero.
    """
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        shuffled = torch.randperm(num_train, device=X.device)
        for batch_idx in torch.split(shuffled, batch_size):
            scores = X[batch_idx] @ W + b
            loss = hinge_loss(scores, labels[batch_idx], W, lam)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                W.sub_(learning_rate * W.grad)
                b.sub_(learning_rate * b.grad)
            W.grad.zero_()
            b.grad.zero_()
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    """Binary predictions: +1.0 where ``X @ W + b >= 0``, else -1.0 (X's dtype, shape (N,))."""
    scores = X @ W + b
    pred = torch.ones(scores.shape, dtype=X.dtype, device=X.device)
    pred[scores < 0] = -1.0
    return pred


# ---------------------------------------------------------------------------
# One-vs-all
# ---------------------------------------------------------------------------


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    """Train ``num_classes`` binary SVMs, class c against all the others.

    Inputs:
    - X: torch.Tensor of shape (N, D).
    - y: torch.Tensor of shape (N,), int64, labels 0..num_classes-1.
    - num_classes: int.
    - train_kwargs: passed on unchanged to ``train_binary_svm`` (lam,
      learning_rate, num_epochs, batch_size).

    Returns a tuple of:
    - W: torch.Tensor of shape (D, num_classes): column c is the weight vector
      of the SVM "c against the rest" (trained with to_pm1_labels(y, c)).
    - b: torch.Tensor of shape (num_classes,): their biases.
    """
    W = torch.zeros(X.shape[1], num_classes, dtype=X.dtype, device=X.device)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device)
    for c in range(num_classes):
        w_c, b_c, hist = train_binary_svm(X, to_pm1_labels(y, c, X.dtype), **train_kwargs)
        W[:, c].copy_(w_c)
        b[c].copy_(b_c)
    return W, b


def predict_one_vs_all(X, W, b):
    """Class labels (N,), int64: the class whose SVM gives the highest score ``X @ W + b``."""
    scores = X @ W + b
    y_pred = scores.max(dim=1)[1]
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    """Accuracy on the examples of each class.

    Inputs:
    - y_pred, y: torch.Tensor of shape (N,), int64.
    - num_classes: int.

    Returns:
    - torch.Tensor of shape (num_classes,), float64: entry c is the fraction
      of the examples with ``y == c`` that are predicted as c (0.0 for a
      class without examples).
    """
    values = []
    for c in range(num_classes):
        in_class = y == c
        count = int(in_class.sum())
        hits = int((y_pred[in_class] == c).sum())
        values.append(hits / count if count > 0 else 0.0)
    acc = torch.tensor(values, dtype=torch.float64, device=y.device)
    return acc


# ---------------------------------------------------------------------------
# Softmax regression
# ---------------------------------------------------------------------------


def softmax_cross_entropy(logits, labels):
    """Mean cross-entropy of softmax(logits) against integer labels, computed stably.

    ``loss = mean_i ( log(sum_j exp(logits[i, j])) - logits[i, labels[i]] )``,
    i.e. log-softmax followed by the negative log-likelihood. Subtract each
    row's maximum before exponentiating so that ``exp`` never overflows (the
    result does not change: softmax is shift-invariant); never take the log
    of a probability that may have underflowed to 0.

    Inputs:
    - logits: torch.Tensor of shape (N, C), floating point.
    - labels: torch.Tensor of shape (N,), int64.

    Returns:
    - a 0-dimensional tensor of logits' dtype, differentiable by autograd.
    """
    num = logits.shape[0]
    row_max, _ = torch.max(logits, dim=1, keepdim=True)
    shifted = logits - row_max
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    one_hot = torch.zeros_like(logits).scatter(1, labels.view(-1, 1), 1.0)
    loss = -(one_hot * log_probs).sum() / num
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    """Multinomial logistic regression trained with minibatch SGD.

    Same loop as ``train_binary_svm`` (zeros to start, a new torch.randperm
    order each epoch, one step per minibatch, history recorded before each
    update), with ``W`` of shape (D, num_classes), ``b`` of shape
    (num_classes,) and the loss
    ``softmax_cross_entropy(X_b @ W + b, y_b) + lam * sum(W * W)``.

    Returns a tuple (W, b, loss_history), W and b detached.
    """
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    def _sgd_step(params):
        with torch.no_grad():
            for p in params:
                p.sub_(learning_rate * p.grad)
                p.grad.zero_()

    for epoch in range(num_epochs):
        shuffled = torch.randperm(num_train, device=X.device)
        for batch_idx in torch.split(shuffled, batch_size):
            logits = X[batch_idx] @ W + b
            loss = softmax_cross_entropy(logits, y[batch_idx]) + lam * torch.norm(W) ** 2
            loss_history.append(loss.item())
            loss.backward()
            _sgd_step((W, b))
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    """Class labels (N,), int64: argmax over classes of ``X @ W + b``."""
    y_pred = (X @ W + b).max(dim=1)[1]
    return y_pred
