"""Student implementation "abs_sequential_dataloader" (corpus variant B).

Styles: sigmoid = exp(-|x|) formulation (the -|x| written with torch.where so
that the gradient at 0 is right), then where(x >= 0, 1/(1+z), z/(1+z));
tanh = 2 * sigmoid(2x) - 1 (reusing my sigmoid); relu =
torch.where(x > 0, x, zeros_like(x)); LinearSoftmax/MLP = nn.Sequential with
nn.Flatten and a small ReLU module that calls my relu; count_parameters =
sum of a list; train_model = DataLoader over a TensorDataset of the
randperm-permuted tensors (shuffle=False, the order comes from randperm);
predict = torch.inference_mode() + preallocated output; accuracy =
correct count / numel.

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
from torch.utils.data import DataLoader, TensorDataset
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
    neg_abs = torch.where(x >= 0, -x, x)  # -|x|, never positive
    z = torch.exp(neg_abs)                # in (0, 1], cannot overflow
    out = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
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
    out = 2 * sigmoid(2 * x) - 1
    return out


def relu(x):
    """The rectified linear unit, ``max(0, x)``, elementwise.

    Inputs:
    - x: torch.Tensor of any shape, floating point.

    Returns:
    - torch.Tensor of x's shape, dtype and device. Do not modify x in place.
    """
    out = torch.where(x > 0, x, torch.zeros_like(x))
    return out


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class MyReLU(nn.Module):
    """nn.Module wrapper around my relu so it can sit inside nn.Sequential."""

    def forward(self, x):
        return relu(x)


class LinearSoftmax(nn.Module):
    """Multinomial logistic regression: one ``nn.Linear(784, 10)`` layer.

    ``forward(x)`` flattens ``x`` to ``(N, 784)`` and returns the logits
    ``(N, 10)``. It has 784 * 10 + 10 = 7,850 parameters.
    """

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, num_classes),
        )

    def forward(self, x):
        return self.net(x)


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
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, hidden),
            MyReLU(),
            nn.Linear(hidden, hidden),
            MyReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.net(x)


def count_parameters(model):
    """The number of trainable scalars of ``model``, as a Python int.

    Inputs:
    - model: a torch.nn.Module.

    Returns:
    - int: the sum of ``p.numel()`` over the parameters that require a
      gradient (26,506 for ``MLP()``).
    """
    total = sum([p.numel() for p in model.parameters() if p.requires_grad])
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
    loss_fn = nn.CrossEntropyLoss()
    N = len(X_train)
    for epoch in range(num_epochs):
        perm = torch.randperm(N, device=X_train.device)
        loader = DataLoader(TensorDataset(X_train[perm], y_train[perm]), batch_size=batch_size, shuffle=False)
        running = 0.0
        for xb, yb in loader:
            optimizer.zero_grad()
            out = model(xb)
            loss = loss_fn(out, yb)
            loss.backward()
            optimizer.step()
            loss_history.append(loss.item())
            running += loss.item()
        if verbose:
            print(f"Epoch {epoch + 1}/{num_epochs}, loss = {running / len(loader):.4f}")
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
    N = X.shape[0]
    y_pred = torch.empty(N, dtype=torch.int64, device=X.device)
    with torch.inference_mode():
        for i in range(0, N, batch_size):
            scores = model(X[i:i + batch_size])
            y_pred[i:i + batch_size] = torch.argmax(scores, dim=1)
    return y_pred


def accuracy(y_pred, y):
    """The fraction of correct predictions, as a Python float in [0, 1].

    Inputs:
    - y_pred: torch.Tensor of shape (N,), int64, predicted labels.
    - y: torch.Tensor of shape (N,), int64, true labels.
    """
    acc = (y_pred == y).sum().item() / y.numel()
    return float(acc)
