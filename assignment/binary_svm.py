# Your file: write your code where it says TODO, then run `python -m grader check` to test it.
# (Course staff: generated from solutions/binary_svm.py by `python -m grader release`; edit that file.)
"""Part 4: CIFAR-10 from scratch: a binary soft-margin SVM, one-vs-all and softmax regression.

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
* Do not use ``torch.nn`` (layers, losses, ``torch.nn.functional.softmax``
  and the like), ``torch.softmax``, ``torch.log_softmax``, ``torch.logsumexp``
  or torch's loss functions in the losses and trainers: the point is to write
  them yourself. Tensor utilities are fine, ``torch.nn.functional.one_hot``,
  ``relu`` and ``pad`` among them, as are ``torch.clamp``, ``torch.where``
  and ``gather``.
* Do not modify input tensors in place. Keep the dtype and device of ``X``.
"""

import torch

__all__ = [
    "to_pm1_labels",
    "normalize",
    "hinge_loss",
    "train_binary_svm",
    "svm_predict",
    "train_one_vs_all",
    "predict_one_vs_all",
    "per_class_accuracy",
    "softmax_cross_entropy",
    "train_softmax_regression",
    "predict_softmax",
]


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
    # TODO: implement this
    raise NotImplementedError("to_pm1_labels is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("normalize is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("hinge_loss is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("train_binary_svm is not implemented yet")
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    """Binary predictions: +1.0 where ``X @ W + b >= 0``, else -1.0 (X's dtype, shape (N,))."""
    # TODO: implement this
    raise NotImplementedError("svm_predict is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("train_one_vs_all is not implemented yet")
    return W, b


def predict_one_vs_all(X, W, b):
    """Class labels (N,), int64: the class whose SVM gives the highest score ``X @ W + b``."""
    # TODO: implement this
    raise NotImplementedError("predict_one_vs_all is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("per_class_accuracy is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("softmax_cross_entropy is not implemented yet")
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
    # TODO: implement this
    raise NotImplementedError("train_softmax_regression is not implemented yet")
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    """Class labels (N,), int64: argmax over classes of ``X @ W + b``."""
    # TODO: implement this
    raise NotImplementedError("predict_softmax is not implemented yet")
    return y_pred
