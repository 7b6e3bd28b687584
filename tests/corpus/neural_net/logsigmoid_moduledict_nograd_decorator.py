"""Student implementation "logsigmoid_moduledict_nograd_decorator" (corpus variant E).

Styles: sigmoid = exp of the log-sigmoid, ``exp(min(x, 0) - log1p(exp(-|x|)))``,
with min(x, 0) and -|x| both written with torch.where on ``x < 0`` (so the
one-sided derivative at 0 is consistent, no clamp); tanh = one evaluation on
|x| (|x| via torch.where, ``-expm1(-2a) / (1 + exp(-2a))``) and the sign put
back with ``torch.where(x >= 0, t, -t)``; relu = ``x.masked_fill(x <= 0, 0.0)``
(out of place); LinearSoftmax = ``x.flatten(start_dim=1)``; MLP = nn.ModuleDict
of three Linear layers iterated in order; count_parameters = sum of
``numel * requires_grad``; train_model = nn.CrossEntropyLoss() module,
index_select of each minibatch from the randperm order,
``optimizer.zero_grad(set_to_none=True)`` and ``loss.item()``; predict =
``@torch.no_grad()`` decorator + list comprehension of argmax chunks;
accuracy = torch.count_nonzero / numel.
"""

import torch
from torch import nn


def sigmoid(x):
    zeros = torch.zeros_like(x)
    neg_part = torch.where(x < 0, x, zeros)        # min(x, 0)
    neg_abs = torch.where(x < 0, x, -x)            # -|x|
    log_sig = neg_part - torch.log1p(torch.exp(neg_abs))
    out = torch.exp(log_sig)
    return out


def tanh(x):
    a = torch.where(x >= 0, x, -x)                 # |x|
    e = torch.exp(-2 * a)
    t = -torch.expm1(-2 * a) / (1 + e)
    out = torch.where(x >= 0, t, -t)
    return out


def relu(x):
    out = x.masked_fill(x <= 0, 0.0)
    return out


class LinearSoftmax(nn.Module):
    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(x.flatten(start_dim=1))


class MLP(nn.Module):
    def __init__(self, in_features=784, hidden=32, num_classes=10):
        super().__init__()
        self.layers = nn.ModuleDict({
            "hidden1": nn.Linear(in_features, hidden),
            "hidden2": nn.Linear(hidden, hidden),
            "output": nn.Linear(hidden, num_classes),
        })

    def forward(self, x):
        h = x.flatten(start_dim=1)
        names = list(self.layers.keys())
        for name in names[:-1]:
            h = relu(self.layers[name](h))
        return self.layers[names[-1]](h)


def count_parameters(model):
    total = sum(p.numel() * int(p.requires_grad) for p in model.parameters())
    return int(total)


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
    loss_history = []
    model.train()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    N = X_train.shape[0]
    for epoch in range(num_epochs):
        order = torch.randperm(N, device=X_train.device)
        epoch_losses = []
        for start in range(0, N, batch_size):
            idx = order[start:start + batch_size]
            xb = X_train.index_select(0, idx)
            yb = y_train.index_select(0, idx.to(y_train.device))
            loss = criterion(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            epoch_losses.append(loss.item())
        loss_history.extend(epoch_losses)
        if verbose:
            print(f"epoch {epoch + 1}/{num_epochs}: mean loss {sum(epoch_losses) / len(epoch_losses):.4f}")
    return loss_history


@torch.no_grad()
def predict(model, X, batch_size=1000):
    model.eval()
    chunks = [model(X[i:i + batch_size]).argmax(dim=1) for i in range(0, X.shape[0], batch_size)]
    if not chunks:
        return torch.empty(0, dtype=torch.int64, device=X.device)
    y_pred = torch.cat(chunks).to(device=X.device, dtype=torch.int64)
    return y_pred


def accuracy(y_pred, y):
    acc = torch.count_nonzero(y_pred == y).item() / y.numel()
    return float(acc)
