"""Student implementation "lookup_varmean_onehot_confusion" (corpus variant E).

Styles: to_pm1_labels = a lookup table ``tensor([-1., 1.])`` indexed by
``(y == c).long()``; normalize = ``torch.var_mean(X_train, dim=0,
keepdim=True, correction=1)`` then ``.sqrt()`` (the unbiased std, like
``X.std(dim=0)``), applied with ``tuple(map(...))``; hinge_loss =
``torch.nn.functional.relu`` of the margins (the docstring allows F.relu) and
``lam * (W * W).sum()``; train_binary_svm = a ``while`` loop over the
randperm order, the step written as ``p.sub_(learning_rate * p.grad)`` for p
in (W, b) under no_grad and gradients reset with ``p.grad = None``;
svm_predict = the same lookup table indexed by ``(scores >= 0).long()``;
train_one_vs_all = list comprehension of trained SVMs, ``zip(*...)`` and
``torch.column_stack``; predict_one_vs_all = ``topk(1).indices``;
per_class_accuracy = a confusion matrix built with
``index_put_(..., accumulate=True)``, its diagonal over its row sums (empty
rows give 0); softmax_cross_entropy = ``amax(keepdim=True)`` shift, log of
the sum of exps, and ``F.one_hot`` (allowed) to pick the correct-class
logit; train_softmax_regression = the same while loop; predict_softmax =
``torch.argmax(scores, dim=-1)``.
"""

import torch
import torch.nn.functional as F


def to_pm1_labels(y, positive_class, dtype=torch.float32):
    table = torch.tensor([-1.0, 1.0], dtype=dtype, device=y.device)
    labels = table[(y == positive_class).long()]
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    var, mean = torch.var_mean(X_train, dim=0, keepdim=True, correction=1)
    std = var.sqrt()
    out = tuple(map(lambda X: (X - mean) / (std + eps), (X_train, X_val, X_test)))
    return out


def hinge_loss(scores, labels, W, lam):
    margins = F.relu(1 - labels * scores)
    loss = margins.mean() + lam * (W * W).sum()
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        start = 0
        while start < num_train:
            idx = perm[start:start + batch_size]
            start += batch_size
            loss = hinge_loss(X[idx] @ W + b, labels[idx], W, lam)
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                for p in (W, b):
                    p.sub_(learning_rate * p.grad)
                    p.grad = None
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    table = torch.tensor([-1.0, 1.0], dtype=X.dtype, device=X.device)
    pred = table[(X @ W + b >= 0).long()]
    return pred


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    trained = [train_binary_svm(X, to_pm1_labels(y, c, dtype=X.dtype), **train_kwargs)
               for c in range(num_classes)]
    Ws, bs, _ = zip(*trained)
    W = torch.column_stack(Ws)
    b = torch.stack(bs)
    return W, b


def predict_one_vs_all(X, W, b):
    scores = X @ W + b
    y_pred = scores.topk(1, dim=1).indices.squeeze(1)
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.float64, device=y.device)
    confusion.index_put_((y, y_pred.to(y.device)), torch.ones(y.shape[0], dtype=torch.float64, device=y.device),
                         accumulate=True)
    support = confusion.sum(dim=1)
    hits = confusion.diagonal()
    acc = torch.where(support > 0, hits / support.clamp(min=1), torch.zeros_like(support))
    return acc


def softmax_cross_entropy(logits, labels):
    shifted = logits - logits.amax(dim=1, keepdim=True)
    log_norm = torch.log(torch.exp(shifted).sum(dim=1))
    picked = (shifted * F.one_hot(labels, logits.shape[1]).to(logits.dtype)).sum(dim=1)
    loss = (log_norm - picked).mean()
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        start = 0
        while start < num_train:
            idx = perm[start:start + batch_size]
            start += batch_size
            loss = softmax_cross_entropy(X[idx] @ W + b, y[idx]) + lam * (W * W).sum()
            loss_history.append(loss.item())
            loss.backward()
            with torch.no_grad():
                for p in (W, b):
                    p.sub_(learning_rate * p.grad)
                    p.grad = None
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = torch.argmax(X @ W + b, dim=-1)
    return y_pred
