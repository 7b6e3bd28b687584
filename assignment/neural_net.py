# Your file: write your code where it says TODO, then run `python -m grader check` to test it.
# (Course staff: generated from solutions/neural_net.py by `python -m grader release`; edit that file.)
"""Part 3: activations, a linear softmax model and a small MLP on MNIST.

You implement, with plain PyTorch tensor operations:

* the activation functions ``sigmoid``, ``tanh`` and ``relu``, written from
  their definitions (no ``torch.sigmoid``, ``torch.tanh``, ``torch.relu``,
  ``torch.nn.functional``, ``torch.special`` or the tensor methods
  ``x.sigmoid()``, ``x.tanh()``, ``x.relu()``), numerically safe for large
  ``|x|`` (no NaN or overflow at ``x = +-1000``, neither in the value nor in
  its gradient);
* two models built from ``torch.nn.Linear`` layers: ``LinearSoftmax``
  (784 -> 10) and ``MLP`` (784 -> 32 -> 32 -> 10, your ``relu`` after each
  hidden layer);
* a training loop (mean cross-entropy, plain SGD, shuffled minibatches),
  prediction and accuracy.

Conventions used everywhere in this file:

* Images are MNIST digits scaled to [0, 1]. A model accepts either a batch of
  images of shape ``(N, 1, 28, 28)`` or already flattened rows of shape
  ``(N, 784)``, and returns raw class scores (logits) of shape ``(N, 10)``:
  no softmax inside the model (the cross-entropy loss applies it).
* Labels ``y`` have shape ``(N,)`` and dtype ``torch.int64``, values 0..9.
* Activations return a new tensor of the input's shape, dtype and device and
  never modify their input in place.
"""

import torch
from torch import nn

__all__ = [
    "sigmoid",
    "tanh",
    "relu",
    "LinearSoftmax",
    "MLP",
    "count_parameters",
    "train_model",
    "predict",
    "accuracy",
]


# ---------------------------------------------------------------------------
# Activation functions
# ---------------------------------------------------------------------------


def sigmoid(x):
    """The logistic sigmoid, ``1 / (1 + exp(-x))``, elementwise.

    Inputs:
    - x: torch.Tensor of any shape, floating point.

    Returns:
    - torch.Tensor of x's shape, dtype and device, values in [0, 1].

    Numerical safety: ``exp(-x)`` overflows to inf for ``x = -1000`` and the
    gradient of the textbook formula is then ``inf / inf = NaN``. Evaluate
    ``exp`` only at non-positive arguments: for ``x >= 0`` use
    ``1 / (1 + exp(-x))``; for ``x < 0`` use ``exp(x) / (1 + exp(x))``. Make
    sure the branch that is NOT selected cannot overflow either (autograd
    differentiates both branches of ``torch.where``): clamp its argument.
    """
    # TODO: implement this
    raise NotImplementedError("sigmoid is not implemented yet")
    return out


def tanh(x):
    """The hyperbolic tangent, ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))``.

    Inputs:
    - x: torch.Tensor of any shape, floating point.

    Returns:
    - torch.Tensor of x's shape, dtype and device, values in [-1, 1].

    Numerical safety: as for ``sigmoid``, never evaluate ``exp`` at a large
    positive argument. With ``e = exp(-2 |x|)`` (at most 1),
    ``tanh(x) = sign(x) * (1 - e) / (1 + e)``; ``torch.expm1`` keeps small
    values accurate. Again, keep both branches of a ``torch.where`` finite.
    """
    # TODO: implement this
    raise NotImplementedError("tanh is not implemented yet")
    return out


def relu(x):
    """The rectified linear unit, ``max(0, x)``, elementwise.

    Inputs:
    - x: torch.Tensor of any shape, floating point.

    Returns:
    - torch.Tensor of x's shape, dtype and device. Do not modify x in place.
    """
    # TODO: implement this
    raise NotImplementedError("relu is not implemented yet")
    return out


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class LinearSoftmax(nn.Module):
    """Multinomial logistic regression: one ``nn.Linear(784, 10)`` layer.

    ``forward(x)`` flattens ``x`` to ``(N, 784)`` and returns the logits
    ``(N, 10)``. It has 784 * 10 + 10 = 7,850 parameters.
    """

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        # TODO: implement this
        raise NotImplementedError("LinearSoftmax.__init__ is not implemented yet")

    def forward(self, x):
        # TODO: implement this
        raise NotImplementedError("LinearSoftmax.forward is not implemented yet")


class MLP(nn.Module):
    """A multilayer perceptron 784 -> 32 -> 32 -> 10.

    Three ``nn.Linear`` layers (784 -> 32, 32 -> 32, 32 -> 10, each with a
    bias, created in that order), with YOUR ``relu`` (the function above)
    after each of the two hidden layers and nothing after the last one.
    ``forward(x)`` flattens ``x`` to ``(N, 784)`` and returns the logits
    ``(N, 10)``. It has 26,506 parameters.
    """

    def __init__(self, in_features=784, hidden=32, num_classes=10):
        super().__init__()
        # TODO: implement this
        raise NotImplementedError("MLP.__init__ is not implemented yet")

    def forward(self, x):
        # TODO: implement this
        raise NotImplementedError("MLP.forward is not implemented yet")


def count_parameters(model):
    """The number of trainable scalars of ``model``, as a Python int.

    Inputs:
    - model: a torch.nn.Module.

    Returns:
    - int: the sum of ``p.numel()`` over the parameters that require a
      gradient (26,506 for ``MLP()``).
    """
    # TODO: implement this
    raise NotImplementedError("count_parameters is not implemented yet")
    return int(total)


# ---------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
    """Train ``model`` with minibatch SGD on the mean cross-entropy loss.

    Inputs:
    - model: a torch.nn.Module mapping a batch of images to logits (N, 10).
    - X_train: torch.Tensor of shape (N, 784) or (N, 1, 28, 28), float.
    - y_train: torch.Tensor of shape (N,), dtype torch.int64.
    - learning_rate: float, the SGD step size.
    - num_epochs: int, the number of passes over the training data.
    - batch_size: int, the number of examples per minibatch (the last
      minibatch of an epoch holds the remaining ``N % batch_size`` examples
      when N is not a multiple of batch_size).
    - verbose: bool; if True, print the mean loss of every epoch.

    Returns:
    - loss_history: list of Python floats, the loss of every minibatch, in
      order (``num_epochs * ceil(N / batch_size)`` values), each recorded
      BEFORE that minibatch's update.

    Each epoch: draw a new random order of the N examples with
    ``torch.randperm(N, device=X_train.device)``, walk through it in
    minibatches, and for each one: compute the logits, the MEAN cross-entropy
    loss (``torch.nn.functional.cross_entropy`` is allowed here), clear the
    old gradients, back-propagate and take one step with
    ``torch.optim.SGD(model.parameters(), lr=learning_rate)`` (no momentum,
    no weight decay). Put the model in training mode first.
    """
    loss_history = []
    # TODO: implement this
    raise NotImplementedError("train_model is not implemented yet")
    return loss_history


def predict(model, X, batch_size=1000):
    """Predicted labels of ``model`` for the examples ``X``.

    Inputs:
    - model: a trained torch.nn.Module.
    - X: torch.Tensor of shape (N, 784) or (N, 1, 28, 28).
    - batch_size: int, how many examples to push through the model at once.

    Returns:
    - y_pred: torch.Tensor of shape (N,), dtype torch.int64, on X's device:
      the class with the highest logit for each example.

    Put the model in evaluation mode and compute without gradients
    (``torch.no_grad()``).
    """
    # TODO: implement this
    raise NotImplementedError("predict is not implemented yet")
    return y_pred


def accuracy(y_pred, y):
    """The fraction of correct predictions, as a Python float in [0, 1].

    Inputs:
    - y_pred: torch.Tensor of shape (N,), int64, predicted labels.
    - y: torch.Tensor of shape (N,), int64, true labels.
    """
    # TODO: implement this
    raise NotImplementedError("accuracy is not implemented yet")
    return float(acc)
