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
    out = x.clamp(min=0)
    return out


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class LinearSoftmax(nn.Module):

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.fc(x)


class MLP(nn.Module):

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
    total = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return int(total)


# ---------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
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
    acc = (y_pred == y).float().mean().item()
    return float(acc)
