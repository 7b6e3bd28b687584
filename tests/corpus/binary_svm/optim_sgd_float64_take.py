"""Student implementation "optim_sgd_float64_take" (corpus variant F).

Styles: to_pm1_labels = ``torch.sign((y == c).to(dtype) - 0.5)``;
normalize = mean as ``sum / N`` and the unbiased std as
``sqrt(mean((X - mu)^2) * N / (N - 1))``, returned as a list-built tuple;
hinge_loss = ``torch.where(m > 0, m, 0).mean()`` and the penalty as
``lam * torch.dot(W.reshape(-1), W.reshape(-1))``; train_binary_svm and
train_softmax_regression = ``torch.optim.SGD([W, b], lr=learning_rate)``
(plain SGD, no momentum, no weight decay: its step is exactly
``p -= lr * p.grad``) with ``optimizer.zero_grad()`` after each step, and
minibatches from ``torch.split(perm, batch_size)``; svm_predict =
``scores.ge(0).to(dtype).mul(2).sub(1)``; train_one_vs_all = the weight
vectors collected in a list, ``torch.vstack(...).T`` (a transposed, i.e.
non-contiguous, (D, C) view); predict_one_vs_all = ``torch.max(scores, dim=1)``
unpacked; per_class_accuracy = two ``scatter_add_`` counts (hits, support) and
``torch.where`` for empty classes; softmax_cross_entropy = computed in float64
(upcast, max shift, log-sum-exp) and cast back to the logits' dtype, the
correct-class log-probability picked with ``torch.take`` on flat indices;
predict_softmax = ``scores.max(1).indices``.
"""

import torch


def to_pm1_labels(y, positive_class, dtype=torch.float32):
    labels = torch.sign((y == positive_class).to(dtype) - 0.5)
    return labels


def normalize(X_train, X_val, X_test, eps=1e-8):
    N = X_train.shape[0]
    mu = X_train.sum(dim=0) / N
    sigma = torch.sqrt(((X_train - mu) ** 2).mean(dim=0) * N / (N - 1))
    out = []
    for X in (X_train, X_val, X_test):
        out.append((X - mu) / (sigma + eps))
    return tuple(out)


def hinge_loss(scores, labels, W, lam):
    m = 1 - labels * scores
    data = torch.where(m > 0, m, 0).mean()
    flat = W.reshape(-1)
    loss = data + lam * torch.dot(flat, flat)
    return loss


def train_binary_svm(X, labels, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros((), dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    optimizer = torch.optim.SGD([W, b], lr=learning_rate)
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for idx in torch.split(perm, batch_size):
            loss = hinge_loss(X[idx] @ W + b, labels[idx], W, lam)
            loss_history.append(float(loss))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return W.detach(), b.detach(), loss_history


def svm_predict(X, W, b):
    scores = X @ W + b
    pred = scores.ge(0).to(X.dtype).mul(2).sub(1)
    return pred


def train_one_vs_all(X, y, num_classes, **train_kwargs):
    weights, biases = [], []
    for c in range(num_classes):
        w_c, b_c, _ = train_binary_svm(X, to_pm1_labels(y, c, X.dtype), **train_kwargs)
        weights.append(w_c)
        biases.append(b_c)
    W = torch.vstack(weights).T
    b = torch.stack(biases)
    return W, b


def predict_one_vs_all(X, W, b):
    _, y_pred = torch.max(X @ W + b, dim=1)
    return y_pred


def per_class_accuracy(y_pred, y, num_classes):
    hits = torch.zeros(num_classes, dtype=torch.float64, device=y.device)
    support = torch.zeros(num_classes, dtype=torch.float64, device=y.device)
    hits.scatter_add_(0, y, (y_pred == y).to(torch.float64))
    support.scatter_add_(0, y, torch.ones_like(y, dtype=torch.float64))
    acc = torch.where(support > 0, hits / support, torch.zeros_like(hits))
    return acc


def softmax_cross_entropy(logits, labels):
    z = logits.to(torch.float64)
    N, C = z.shape
    shifted = z - z.max(dim=1, keepdim=True).values
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    flat_index = torch.arange(N, device=z.device) * C + labels
    nll = -torch.take(log_probs, flat_index)
    loss = nll.mean().to(logits.dtype)
    return loss


def train_softmax_regression(X, y, num_classes, *, lam=1e-3, learning_rate=1e-2, num_epochs=10, batch_size=64):
    num_train, dim = X.shape
    W = torch.zeros(dim, num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    b = torch.zeros(num_classes, dtype=X.dtype, device=X.device, requires_grad=True)
    loss_history = []
    optimizer = torch.optim.SGD([W, b], lr=learning_rate)
    for epoch in range(num_epochs):
        perm = torch.randperm(num_train, device=X.device)
        for idx in torch.split(perm, batch_size):
            loss = softmax_cross_entropy(X[idx] @ W + b, y[idx]) + lam * (W * W).sum()
            loss_history.append(float(loss))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    return W.detach(), b.detach(), loss_history


def predict_softmax(X, W, b):
    y_pred = (X @ W + b).max(1).indices
    return y_pred
