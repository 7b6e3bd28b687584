"""Student implementation "tanh_first_maximum_numpy" (corpus variant D).

Styles: tanh written first, from (e^x - e^-x)/(e^x + e^-x) multiplied
through by e^-|x| (plain exp, no expm1), branch arguments masked with
torch.where; sigmoid = 0.5 * (1 + tanh(x / 2)) (identity, reusing my tanh);
relu = torch.maximum(x, zeros_like(x)); LinearSoftmax/MLP = explicit layers,
torch.flatten(x, 1); count_parameters = filter + generator; train_model =
permuted copies X_train[perm] sliced in order, optimizer.zero_grad() right
after each step (and once before the loop); predict = no_grad + argmax on
torch.split chunks; accuracy = numpy comparison mean.

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
    # sigmoid(x) = (1 + tanh(x / 2)) / 2: inherits the stability of my tanh
    out = 0.5 * (1.0 + tanh(0.5 * x))
    return out


def tanh(x):
    zero = torch.zeros_like(x)
    x_pos = torch.where(x >= 0, x, zero)   # only used where x >= 0
    x_neg = torch.where(x < 0, x, zero)    # only used where x < 0
    # divide numerator and denominator by e^{|x|}: only exp of non-positive numbers
    e_pos = torch.exp(-2 * x_pos)
    e_neg = torch.exp(2 * x_neg)
    out = torch.where(x >= 0, (1 - e_pos) / (1 + e_pos), (e_neg - 1) / (e_neg + 1))
    return out


def relu(x):
    out = torch.maximum(x, torch.zeros_like(x))
    return out


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------


class LinearSoftmax(nn.Module):

    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.layer = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.layer(torch.flatten(x, start_dim=1))


class MLP(nn.Module):

    def __init__(self, in_features=784, hidden=32, num_classes=10):
        super().__init__()
        self.hidden1 = nn.Linear(in_features, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, num_classes)

    def forward(self, x):
        x = torch.flatten(x, 1)
        h1 = relu(self.hidden1(x))
        h2 = relu(self.hidden2(h1))
        scores = self.output(h2)
        return scores


def count_parameters(model):
    total = sum(p.numel() for p in filter(lambda p: p.requires_grad, model.parameters()))
    return int(total)


# ---------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
    loss_history = []
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.0, weight_decay=0.0)
    optimizer.zero_grad()
    n = X_train.shape[0]
    num_batches = (n + batch_size - 1) // batch_size
    for epoch in range(num_epochs):
        perm = torch.randperm(n, device=X_train.device)
        X_shuf, y_shuf = X_train[perm], y_train[perm]
        total_loss = 0.0
        for i in range(num_batches):
            xb = X_shuf[i * batch_size:(i + 1) * batch_size]
            yb = y_shuf[i * batch_size:(i + 1) * batch_size]
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss_history.append(loss.detach().item())
            total_loss += loss_history[-1]
        if verbose:
            print("Epoch {}: average loss {:.4f}".format(epoch + 1, total_loss / max(num_batches, 1)))
    return loss_history


def predict(model, X, batch_size=1000):
    model.eval()
    with torch.no_grad():
        outs = [model(chunk).argmax(dim=1) for chunk in X.split(batch_size)]
    y_pred = torch.cat(outs).long() if outs else torch.empty(0, dtype=torch.long, device=X.device)
    return y_pred


def accuracy(y_pred, y):
    acc = (y_pred.cpu().numpy() == y.cpu().numpy()).mean()
    return float(acc)
