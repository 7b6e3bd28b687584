# Your file: write your code where it says TODO, then run `python -m grader check` to test it.
# (Course staff: generated from solutions/linear_classifier.py by `python -m grader release`; edit that file.)
"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

You implement, from scratch with plain PyTorch tensor operations:

* the multiclass SVM loss and its gradient, first with explicit loops
  (``svm_loss_naive``) and then without any Python loop
  (``svm_loss_vectorized``);
* the Softmax (cross-entropy) loss and its gradient, naive and vectorized;
* minibatch sampling, a stochastic gradient descent training loop and
  prediction;
* a small hyperparameter search (learning rate x regularization strength).

Conventions used everywhere in this file:

* ``X`` has shape ``(N, D)``: one example per row. The bias trick is already
  applied, so the last column of ``X`` is all ones and ``D = 3073`` for
  CIFAR-10 (32 * 32 * 3 pixels + 1).
* ``W`` has shape ``(D, C)``: one column of weights per class, ``C = 10``.
* ``y`` has shape ``(N,)`` and dtype ``torch.int64``; ``y[i] = c`` means that
  ``X[i]`` has label ``c`` with ``0 <= c < C``.
* The loss is the MEAN of the per-example data loss over the ``N`` examples
  plus ``reg * torch.sum(W * W)`` (no factor 1/2), so the gradient of the
  regularization term is ``2 * reg * W``.
* Every function keeps the device and dtype of its inputs: create new tensors
  with ``device=X.device, dtype=X.dtype`` (or ``torch.zeros_like``), and never
  call ``.to()``, ``.cuda()`` or ``.cpu()``.
* Do not modify the input tensors ``W``, ``X`` and ``y`` in place inside the
  loss functions.
* Do not use ``torch.nn``, ``torch.nn.functional`` or ``torch.autograd`` in
  this file: the point is to derive and write the gradients yourself.
"""

import torch

__all__ = [
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "sample_batch",
    "train_linear_classifier",
    "predict_linear_classifier",
    "svm_get_search_params",
    "softmax_get_search_params",
    "test_one_param_set",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
]


# ---------------------------------------------------------------------------
# Multiclass SVM loss
# ---------------------------------------------------------------------------


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops.

    For one example ``x_i`` with scores ``s = x_i @ W`` (shape ``(C,)``), the
    data loss is the sum of hinge margins over the wrong classes, with margin
    delta = 1::

        L_i = sum over j != y_i of max(0, s_j - s_{y_i} + 1)

    The total loss is ``mean_i L_i + reg * torch.sum(W * W)``.

    Inputs:
    - W: torch.Tensor of shape (D, C), floating point: the weights.
    - X: torch.Tensor of shape (N, D), same dtype and device as W: a minibatch
      of N examples (bias column included).
    - y: torch.Tensor of shape (N,), dtype torch.int64: the labels, with
      0 <= y[i] < C.
    - reg: float, the regularization strength.

    Returns a tuple of:
    - loss: a 0-dimensional torch.Tensor of W's dtype and device.
    - dW: torch.Tensor of shape (D, C), same dtype and device as W: the
      gradient of the loss with respect to W.

    Implementation: loop over the examples and, for each one, over the
    classes, as written above. Skip j == y[i]. Each positive margin adds
    X[i] to column j of dW and subtracts X[i] from column y[i]. Do not forget
    to average the data loss and its gradient over N, then add the
    regularization term and its gradient (2 * reg * W).
    """
    # TODO: implement this
    raise NotImplementedError("svm_loss_naive is not implemented yet")
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop.

    Same inputs, outputs and conventions as ``svm_loss_naive``; the results
    must agree with it up to floating-point rounding.

    Inputs:
    - W: torch.Tensor of shape (D, C), floating point.
    - X: torch.Tensor of shape (N, D), same dtype and device as W.
    - y: torch.Tensor of shape (N,), dtype torch.int64.
    - reg: float.

    Returns a tuple of:
    - loss: a 0-dimensional torch.Tensor of W's dtype and device.
    - dW: torch.Tensor of shape (D, C), same dtype and device as W.

    Hints:
    - Compute all scores at once (an (N, C) matrix) and pick the correct-class
      score of every row with ``scores[torch.arange(N, device=X.device), y]``.
    - The gradient only needs one more matrix product: build an (N, C)
      coefficient matrix that says how much each example contributes to each
      column of dW, then multiply by X.T.
    - Speed matters: this function is timed against its two matrix products.
      Work in place on the (N, C) matrix where you can, and avoid building
      large temporary tensors (such as one-hot matrices) you do not need.

    Allowed: any tensor operation, tensor utilities included
    (torch.nn.functional.one_hot, torch.where, clamp, gather, scatter).
    Not allowed, as they would do the graded work: autograd (.backward(),
    torch.autograd, .grad), torch's loss functions (multi_margin_loss,
    cross_entropy, ...) and torch.nn layers.
    """
    # TODO: implement this
    raise NotImplementedError("svm_loss_vectorized is not implemented yet")
    return loss, dW


# ---------------------------------------------------------------------------
# Softmax loss
# ---------------------------------------------------------------------------


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with loops.

    For one example ``x_i`` with scores ``s = x_i @ W`` (shape ``(C,)``) the
    class probabilities are ``p_j = exp(s_j) / sum_k exp(s_k)`` and the data
    loss is ``L_i = -log(p_{y_i})``. The total loss is
    ``mean_i L_i + reg * torch.sum(W * W)``.

    Inputs:
    - W: torch.Tensor of shape (D, C), floating point: the weights.
    - X: torch.Tensor of shape (N, D), same dtype and device as W (bias column
      included).
    - y: torch.Tensor of shape (N,), dtype torch.int64, 0 <= y[i] < C.
    - reg: float, the regularization strength.

    Returns a tuple of:
    - loss: a 0-dimensional torch.Tensor of W's dtype and device.
    - dW: torch.Tensor of shape (D, C), same dtype and device as W.

    Implementation: loop over the examples (and, if you like, the classes).
    The gradient of L_i with respect to column j of W is
    ``(p_j - 1[j == y_i]) * x_i``.

    Numeric stability: exp overflows for large scores. Subtract the maximum
    score of the example from all its scores before exponentiating; the
    probabilities do not change, and the loss stays finite for huge scores.
    The grader checks this with every score moved by +-1000 (points); when the
    correct class is itself about 1000 below the maximum, log(p_{y_i}) of an
    underflowed probability is -inf, which the grader only notes (no points):
    log p_{y_i} = (s_{y_i} - m) - log(sum_k exp(s_k - m)) stays finite.
    """
    # TODO: implement this
    raise NotImplementedError("softmax_loss_naive is not implemented yet")
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop.

    Same inputs, outputs and conventions as ``softmax_loss_naive``; the
    results must agree with it up to floating-point rounding.

    Inputs:
    - W: torch.Tensor of shape (D, C), floating point.
    - X: torch.Tensor of shape (N, D), same dtype and device as W.
    - y: torch.Tensor of shape (N,), dtype torch.int64.
    - reg: float.

    Returns a tuple of:
    - loss: a 0-dimensional torch.Tensor of W's dtype and device.
    - dW: torch.Tensor of shape (D, C), same dtype and device as W.

    Hints:
    - Subtract each row's maximum score (``scores.max(dim=1, keepdim=True)``)
      before exponentiating, so that huge scores give a finite loss.
    - ``-log(p_{y_i}) = log(sum_k exp(s_k)) - s_{y_i}`` (with the shifted
      scores) is more accurate than taking the log of a tiny probability.
    - The gradient is ``X.T @ dS`` where dS (N, C) holds the probabilities
      minus 1 at each row's correct class, divided by N. Index the correct
      classes with ``torch.arange(N, device=X.device)`` and ``y``.
    - Speed matters: this function is timed against its two matrix products.
      Work in place on the (N, C) matrix where you can.

    Allowed: any tensor operation, tensor utilities included
    (torch.nn.functional.one_hot, torch.softmax, torch.logsumexp, clamp,
    where, gather, scatter). Not allowed, as they would do the graded work:
    autograd (.backward(), torch.autograd, .grad), torch's loss functions
    (cross_entropy, nll_loss, multi_margin_loss, ...) and torch.nn layers.
    """
    # TODO: implement this
    raise NotImplementedError("softmax_loss_vectorized is not implemented yet")
    return loss, dW


# ---------------------------------------------------------------------------
# Training and prediction
# ---------------------------------------------------------------------------


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement.

    Inputs:
    - X: torch.Tensor of shape (num_train, D): the training examples.
    - y: torch.Tensor of shape (num_train,), dtype torch.int64: their labels.
    - num_train: int, the number of training examples.
    - batch_size: int, the number of examples in the minibatch.

    Returns a tuple of:
    - X_batch: torch.Tensor of shape (batch_size, D), X's dtype and device.
    - y_batch: torch.Tensor of shape (batch_size,), int64, y's device; row i
      of X_batch must keep its own label y_batch[i].

    Draw ``batch_size`` indices uniformly at random WITH replacement from
    ``range(num_train)`` using torch's global random number generator, so
    that ``torch.manual_seed`` makes the batches reproducible:
    ``torch.randint(0, num_train, (batch_size,), device=X.device)``.
    """
    # TODO: implement this
    raise NotImplementedError("sample_batch is not implemented yet")
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
    """Train a linear classifier with minibatch stochastic gradient descent.

    Inputs:
    - loss_func: the loss function to use, called as
      ``loss, grad = loss_func(W, X_batch, y_batch, reg)`` (for instance
      ``svm_loss_vectorized``).
    - W: torch.Tensor of shape (D, C) to start from, or None. When None,
      initialize ``W = 1e-6 * torch.randn(D, C, device=X.device, dtype=X.dtype)``
      with ``C = y.max() + 1`` (the labels go from 0 to C - 1).
    - X: torch.Tensor of shape (N, D): the training data (bias included).
    - y: torch.Tensor of shape (N,), dtype torch.int64: the training labels.
    - learning_rate: float, the step size of gradient descent.
    - reg: float, the regularization strength.
    - num_iters: int, the number of gradient steps.
    - batch_size: int, the number of examples in each minibatch.
    - verbose: bool; if True, print the loss every 100 iterations.

    Returns a tuple of:
    - W: torch.Tensor of shape (D, C): the weights after training.
    - loss_history: list of num_iters Python floats, the minibatch loss at
      each iteration (``loss.item()``), before that iteration's update.

    Each iteration: sample a minibatch with ``sample_batch``, evaluate the loss
    and gradient on it, record the loss, and update the weights with plain
    SGD: ``W -= learning_rate * grad``.
    """
    num_train, dim = X.shape
    if W is None:
        num_classes = int(torch.max(y).item()) + 1
        W = 1e-6 * torch.randn(dim, num_classes, device=X.device, dtype=X.dtype)

    loss_history = []
    for it in range(num_iters):
        # TODO: implement this
        raise NotImplementedError("train_linear_classifier is not implemented yet")

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier.

    Inputs:
    - W: torch.Tensor of shape (D, C): the trained weights.
    - X: torch.Tensor of shape (N, D), same dtype and device as W.

    Returns:
    - y_pred: torch.Tensor of shape (N,), dtype torch.int64, on X's device:
      y_pred[i] is the class with the highest score ``X[i] @ W``.
    """
    # TODO: implement this
    raise NotImplementedError("predict_linear_classifier is not implemented yet")
    return y_pred


# ---------------------------------------------------------------------------
# Hyperparameter search
# ---------------------------------------------------------------------------


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM.

    Returns a tuple of:
    - learning_rates: list of floats, the learning rates to try.
    - regularization_strengths: list of floats, the regularization strengths
      to try.

    Every pair (learning rate, regularization strength) is trained once, so
    keep the grid small: at least 2 values in each list and between 5 and 25
    combinations in total. Start coarse (values a factor of 10 apart, e.g.
    from 1e-4 to 1), look at the validation accuracy, then refine around the
    best values. A well-chosen grid reaches about 37% validation accuracy
    with 1500 training iterations.
    """
    # TODO: implement this
    raise NotImplementedError("svm_get_search_params is not implemented yet")
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier.

    Returns a tuple of:
    - learning_rates: list of floats, the learning rates to try.
    - regularization_strengths: list of floats, the regularization strengths
      to try.

    Same rules as ``svm_get_search_params``: at least 2 values in each list
    and between 5 and 25 combinations in total. A well-chosen grid reaches
    about 39% validation accuracy with 1500 training iterations.
    """
    # TODO: implement this
    raise NotImplementedError("softmax_get_search_params is not implemented yet")
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it.

    Inputs:
    - cls: a LinearClassifier instance (LinearSVM or Softmax), untrained.
    - data_dict: dict with the keys 'X_train', 'y_train', 'X_val', 'y_val'
      holding the training and validation tensors (shapes (N, D) and (N,)).
    - lr: float, the learning rate.
    - reg: float, the regularization strength.
    - num_iters: int, the number of training iterations. Pass it on to
      ``cls.train``; do not replace it with a number of your own.

    Returns a tuple of:
    - cls: the same classifier, now trained.
    - train_acc: Python float in [0, 1], the fraction of training examples
      that ``cls.predict`` classifies correctly (a fraction, not a percent).
    - val_acc: Python float in [0, 1], the same on the validation set.

    Train exactly once:
    ``cls.train(data_dict['X_train'], data_dict['y_train'], lr, reg, num_iters)``.
    """
    train_acc = 0.0
    val_acc = 0.0
    # TODO: implement this
    raise NotImplementedError("test_one_param_set is not implemented yet")
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


class LinearClassifier:
    """A linear classifier: weights ``self.W`` of shape (D, C), or None."""

    def __init__(self):
        self.W = None

    def train(
        self,
        X_train,
        y_train,
        learning_rate=1e-3,
        reg=1e-5,
        num_iters=100,
        batch_size=200,
        verbose=False,
    ):
        """Train with ``train_linear_classifier``; returns the loss history.

        Training continues from ``self.W`` when the model already has weights.
        """
        self.W, loss_history = train_linear_classifier(
            self.loss,
            self.W,
            X_train,
            y_train,
            learning_rate,
            reg,
            num_iters,
            batch_size,
            verbose,
        )
        return loss_history

    def predict(self, X):
        """Labels of X (N, D) as an int64 tensor of shape (N,)."""
        return predict_linear_classifier(self.W, X)

    def loss(self, W, X_batch, y_batch, reg):
        """Loss and gradient for weights W on a minibatch; subclasses define it.

        Inputs:
        - W: torch.Tensor of shape (D, C).
        - X_batch: torch.Tensor of shape (N, D).
        - y_batch: torch.Tensor of shape (N,), int64.
        - reg: float.

        Returns (loss, dW) like the loss functions above.
        """
        raise NotImplementedError

    def _loss(self, X_batch, y_batch, reg):
        """Loss and gradient of the current weights ``self.W``."""
        return self.loss(self.W, X_batch, y_batch, reg)

    def save(self, path):
        """Save the weights to ``path`` (a ``.pt`` file)."""
        torch.save({"W": self.W}, path)
        print("Saved in {}".format(path))

    def load(self, path):
        """Load weights saved by ``save``, onto the CPU."""
        W_dict = torch.load(path, map_location="cpu", weights_only=True)
        self.W = W_dict["W"]
        print("Loaded checkpoint file: {}".format(path))


class LinearSVM(LinearClassifier):
    """A linear classifier trained with the multiclass SVM loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return svm_loss_vectorized(W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier trained with the Softmax (cross-entropy) loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return softmax_loss_vectorized(W, X_batch, y_batch, reg)
