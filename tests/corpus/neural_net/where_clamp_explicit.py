"""Student implementation "where_clamp_explicit" (corpus variant A).

Styles: sigmoid = two-branch torch.where, each branch's argument clamped
(bound +-1 so the gradient at 0 survives);
tanh = two-branch torch.where with torch.expm1, clamped arguments;
relu = x.clamp(min=0); LinearSoftmax/MLP = explicit named nn.Linear
attributes, x.reshape(N, -1); count_parameters = generator sum;
train_model = manual randperm + index slicing, optimizer.zero_grad() before
backward; predict = torch.no_grad() batch loop + torch.cat; accuracy =
(y_pred == y).float().mean().item().

Part 3: activations, a linear softmax model and a small MLP on MNIST.

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
import torch.nn.functional as F
from torch import nn


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
    # Each branch gets its argument clamped so that exp sees at most exp(1), even
    # on the elements where the branch is not selected (autograd still
    # differentiates it there). The clamp bound is 1 and not 0 so that at x = 0
    # the selected branch still passes the gradient (clamp's gradient is 0 at
    # its bound).
    pos = 1.0 / (1.0 + torch.exp(-torch.clamp(x, min=-1.0)))
    ex = torch.exp(torch.clamp(x, max=1.0))
    neg = ex / (1.0 + ex)
    out = torch.where(x >= 0, pos, neg)
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
    # x >= 0: tanh(x) = (1 - e^{-2x}) / (1 + e^{-2x}) = -expm1(-2x) / (2 + expm1(-2x))
    # (clamped like in sigmoid: the unused branch stays finite, bound 1 not 0)
    em_pos = torch.expm1(-2.0 * torch.clamp(x, min=-1.0))
    pos = -em_pos / (2.0 + em_pos)
    # x < 0: tanh(x) = (e^{2x} - 1) / (e^{2x} + 1) = expm1(2x) / (2 + expm1(2x))
    em_neg = torch.expm1(2.0 * torch.clamp(x, max=1.0))
    neg = em_neg / (2.0 + em_neg)
    out = torch.where(x >= 0, pos, neg)
    return out


def relu(x):
    """The rectified linear unit, ``max(0, x)``, elementwise.

    Inputs:
    - x: torch.Tensor of any shape, floating point.

    Returns:
    - torch.Tensor of x's shape, dtype and device. Do not modify x in place.
    """
    out = x.clamp(min=0)
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
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.fc(x)


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
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.fc3 = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        x = relu(self.fc1(x))
        x = relu(self.fc2(x))
        return self.fc3(x)


def count_parameters(model):
    """The number of trainable scalars of ``model``, as a Python int.

    Inputs:
    - model: a torch.nn.Module.

    Returns:
    - int: the sum of ``p.numel()`` over the parameters that require a
      gradient (26,506 for ``MLP()``).
    """
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
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
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    N = X_train.shape[0]
    for epoch in range(num_epochs):
        perm = torch.randperm(N, device=X_train.device)
        epoch_losses = []
        for start in range(0, N, batch_size):
            idx = perm[start:start + batch_size]
            X_batch = X_train[idx]
            y_batch = y_train[idx]
            logits = model(X_batch)
            loss = F.cross_entropy(logits, y_batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_history.append(loss.item())
            epoch_losses.append(loss.item())
        if verbose:
            print("epoch %d / %d: loss %.4f" % (epoch + 1, num_epochs, sum(epoch_losses) / max(len(epoch_losses), 1)))
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
    model.eval()
    preds = []
    with torch.no_grad():
        for start in range(0, X.shape[0], batch_size):
            logits = model(X[start:start + batch_size])
            preds.append(logits.argmax(dim=1))
    if preds:
        y_pred = torch.cat(preds)
    else:
        y_pred = torch.empty(0, dtype=torch.int64, device=X.device)
    return y_pred


def accuracy(y_pred, y):
    """The fraction of correct predictions, as a Python float in [0, 1].

    Inputs:
    - y_pred: torch.Tensor of shape (N,), int64, predicted labels.
    - y: torch.Tensor of shape (N,), int64, true labels.
    """
    acc = (y_pred == y).float().mean().item()
    return float(acc)
