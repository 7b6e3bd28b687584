"""Student implementation "logaddexp_signflip_batchsampler" (corpus variant F).

Styles: sigmoid = ``exp(-softplus(-x))`` with the softplus written as
``torch.logaddexp(0, -x)`` (stable log-domain form, no branch at all);
tanh = odd symmetry with a constant sign tensor ``s = 1 - 2 * (x < 0)``:
``s * (-expm1(-2 s x) / (1 + exp(-2 s x)))`` (s x = |x| with the right
gradient at 0); relu = ``torch.where(x < 0, 0.0, x)`` with a Python scalar;
LinearSoftmax = ``x.reshape(-1, in_features)``; MLP = three Linear layers
created by one tuple assignment, a loop over (fc1, fc2) in forward;
count_parameters = ``parameters_to_vector`` of the trainable parameters;
train_model = ``torch.utils.data.BatchSampler`` over the randperm order (a
list of index lists), the mean cross-entropy written with torch.logsumexp and
gather, ``model.zero_grad()`` before backward, ``loss.detach().cpu().item()``;
predict = ``torch.set_grad_enabled(False)`` context + preallocated int64
output filled chunk by chunk; accuracy = ``y_pred.eq(y).double().sum() / len(y)``.
"""

import torch
from torch import nn
from torch.utils.data import BatchSampler


def sigmoid(x):
    softplus_neg = torch.logaddexp(torch.zeros_like(x), -x)   # log(1 + exp(-x))
    out = torch.exp(-softplus_neg)
    return out


def tanh(x):
    s = 1 - 2 * (x < 0).to(x.dtype)          # +1 or -1, no gradient
    ax = s * x                               # |x|
    t = -torch.expm1(-2 * ax) / (1 + torch.exp(-2 * ax))
    out = s * t
    return out


def relu(x):
    out = torch.where(x < 0, 0.0, x)
    return out


class LinearSoftmax(nn.Module):
    def __init__(self, in_features=784, num_classes=10):
        super().__init__()
        self.in_features = in_features
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.fc(x.reshape(-1, self.in_features))


class MLP(nn.Module):
    def __init__(self, in_features=784, hidden=32, num_classes=10):
        super().__init__()
        self.in_features = in_features
        self.fc1, self.fc2, self.fc3 = (nn.Linear(in_features, hidden),
                                        nn.Linear(hidden, hidden),
                                        nn.Linear(hidden, num_classes))

    def forward(self, x):
        h = x.reshape(-1, self.in_features)
        for layer in (self.fc1, self.fc2):
            h = relu(layer(h))
        return self.fc3(h)


def count_parameters(model):
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        return 0
    total = torch.nn.utils.parameters_to_vector(trainable).numel()
    return int(total)


def train_model(model, X_train, y_train, *, learning_rate=0.1, num_epochs=5, batch_size=64, verbose=False):
    loss_history = []
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    N = X_train.shape[0]
    for epoch in range(num_epochs):
        perm = torch.randperm(N, device=X_train.device)
        epoch_total, epoch_count = 0.0, 0
        for batch in BatchSampler(perm.tolist(), batch_size=batch_size, drop_last=False):
            idx = torch.tensor(batch, dtype=torch.long, device=X_train.device)
            logits = model(X_train[idx])
            targets = y_train[idx.to(y_train.device)]
            correct = logits.gather(1, targets.unsqueeze(1)).squeeze(1)
            loss = (torch.logsumexp(logits, dim=1) - correct).mean()
            model.zero_grad()
            loss.backward()
            optimizer.step()
            value = loss.detach().cpu().item()
            loss_history.append(value)
            epoch_total += value
            epoch_count += 1
        if verbose:
            print("epoch", epoch, "mean loss", epoch_total / max(epoch_count, 1))
    return loss_history


def predict(model, X, batch_size=1000):
    model.eval()
    N = X.shape[0]
    y_pred = torch.empty(N, dtype=torch.int64, device=X.device)
    with torch.set_grad_enabled(False):
        for start in range(0, N, batch_size):
            stop = min(start + batch_size, N)
            y_pred[start:stop] = model(X[start:stop]).argmax(dim=1)
    return y_pred


def accuracy(y_pred, y):
    acc = y_pred.eq(y).double().sum() / len(y)
    return float(acc)
