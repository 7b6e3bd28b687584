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
    neg_abs = torch.where(x >= 0, -x, x)  # -|x|, never positive
    z = torch.exp(neg_abs)                # in (0, 1], cannot overflow
    out = torch.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out


def tanh(x):
    out = 2 * sigmoid(2 * x) - 1
    return out


def relu(x):
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

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class MLP(nn.Module):

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
    total = sum([p.numel() for p in model.parameters() if p.requires_grad])
    return int(total)


# ---------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
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
    model.eval()
    N = X.shape[0]
    y_pred = torch.empty(N, dtype=torch.int64, device=X.device)
    with torch.inference_mode():
        for i in range(0, N, batch_size):
            scores = model(X[i:i + batch_size])
            y_pred[i:i + batch_size] = torch.argmax(scores, dim=1)
    return y_pred


def accuracy(y_pred, y):
    acc = (y_pred == y).sum().item() / y.numel()
    return float(acc)
