"""Student implementation "masked_index_modulelist" (corpus variant C).

Styles: sigmoid and tanh = boolean-mask indexing into torch.empty_like (each
formula evaluated only on the elements of its own sign, so no unused branch);
tanh via expm1 and odd symmetry; relu = x * (x > 0); LinearSoftmax =
x.view(x.size(0), -1) + one Linear; MLP = nn.ModuleList of three Linear
layers; count_parameters = explicit for loop; train_model = perm.split(),
F.cross_entropy, model.zero_grad(); predict = torch.no_grad() + torch.max;
accuracy = torch.mean of a float64 comparison.

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
    out = torch.empty_like(x)
    pos = x >= 0
    neg = ~pos
    out[pos] = 1.0 / (1.0 + torch.exp(-x[pos]))
    e = torch.exp(x[neg])
    out[neg] = e / (1.0 + e)
    return out


def tanh(x):
    def _tanh_nonneg(z):
        # z >= 0: exp(-2z) <= 1 never overflows
        em = torch.expm1(-2.0 * z)
        return -em / (2.0 + em)

    out = torch.empty_like(x)
    pos = x >= 0
    neg = ~pos
    out[pos] = _tanh_nonneg(x[pos])
    out[neg] = -_tanh_nonneg(-x[neg])
    return out


def relu(x):
    out = x * (x > 0).to(x.dtype)
    return out


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class LinearSoftmax(nn.Module):

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x.view(x.size(0), -1))


class MLP(nn.Module):

    def __init__(self, in_features=784, hidden=32, num_classes=10):
        super().__init__()
        self.layers = nn.ModuleList([
            nn.Linear(in_features, hidden),
            nn.Linear(hidden, hidden),
            nn.Linear(hidden, num_classes),
        ])

    def forward(self, x):
        h = x.view(x.size(0), -1)
        for layer in self.layers[:-1]:
            h = relu(layer(h))
        return self.layers[-1](h)


def count_parameters(model):
    total = 0
    for param in model.parameters():
        if param.requires_grad:
            total += param.numel()
    return int(total)


# ---------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
    loss_history = []
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=learning_rate)
    num_train = X_train.size(0)
    for epoch in range(num_epochs):
        order = torch.randperm(num_train, device=X_train.device)
        batch_losses = []
        for batch_idx in order.split(batch_size):
            scores = model(X_train[batch_idx])
            loss = F.cross_entropy(scores, y_train[batch_idx], reduction="mean")
            model.zero_grad()
            loss.backward()
            opt.step()
            batch_losses.append(float(loss))
        loss_history.extend(batch_losses)
        if verbose and batch_losses:
            print("epoch", epoch, "mean loss", sum(batch_losses) / len(batch_losses))
    return loss_history


def predict(model, X, batch_size=1000):
    model.eval()
    chunks = []
    with torch.no_grad():
        for X_chunk in torch.split(X, batch_size):
            _, idx = torch.max(model(X_chunk), dim=1)
            chunks.append(idx)
    y_pred = torch.cat(chunks) if chunks else torch.zeros(0, dtype=torch.long, device=X.device)
    y_pred = y_pred.to(torch.int64)
    return y_pred


def accuracy(y_pred, y):
    acc = torch.mean((y_pred == y).double())
    return float(acc)
