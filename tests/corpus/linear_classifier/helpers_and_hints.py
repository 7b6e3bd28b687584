"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "helpers_and_hints": a student who factors code into private
module-level helpers, uses type hints, a module constant for the margin and
a ``__main__`` self-test block.

* svm_loss_naive: ``for i in range(len(y))``, ``for j in range(C)``, scores
  via the shared ``_scores`` helper per row, margin ``DELTA`` constant,
  extra keyword parameter ``delta=DELTA``.
* svm_loss_vectorized: helpers ``_scores``, ``_pick`` (correct-class scores)
  and ``_add_reg`` (regularization of loss and gradient); margins with
  ``torch.clamp``, coefficient matrix from ``torch.heaviside``-free
  ``(margins > 0)`` added into ``zeros_like``.
* softmax_loss_naive: row-wise ``_log_softmax_row`` helper (stable), inner
  class loop for the gradient.
* softmax_loss_vectorized: ``_scores``/``_pick``/``_add_reg`` helpers; shift
  by ``amax``; ``log(sum(exp))``; ``dS = exp(shifted - lse)``.
* sample_batch: keyword ``torch.randint(low=0, high=num_train, size=[batch_size], device=X.device)``.
* train_linear_classifier: ``W -= learning_rate * grad``; ``loss.item()``.
* predict_linear_classifier: ``torch.argmax(_scores(W, X), dim=-1)``.
* test_one_param_set: ``torch.mean((pred == y).double()).item()``.
* search grids: lists built from a base value times multipliers.
"""

from __future__ import annotations

import torch


DELTA = 1.0


def _scores(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Class scores X @ W."""
    return torch.matmul(X, W)


def _pick(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """scores[i, y[i]] for every row i, as an (N,) tensor."""
    return scores[torch.arange(scores.shape[0], device=scores.device), y]


def _add_reg(loss: torch.Tensor, dW: torch.Tensor, W: torch.Tensor, reg: float):
    """Add reg * sum(W * W) to the loss and 2 * reg * W to the gradient."""
    return loss + reg * torch.sum(W * W), dW + 2 * reg * W


def _log_softmax_row(s: torch.Tensor) -> torch.Tensor:
    """Stable log-probabilities of one score row."""
    shifted = s - s.max()
    return shifted - torch.log(torch.exp(shifted).sum())


def svm_loss_naive(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float,
                   delta: float = DELTA):
    """Multiclass SVM loss and its gradient, computed with explicit loops."""
    C = W.shape[1]
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    for i in range(len(y)):
        s = _scores(W, X[i])
        label = int(y[i])
        for j in range(C):
            if j == label:
                continue
            margin = s[j] - s[label] + delta
            if margin > 0:
                loss = loss + margin
                dW[:, j] = dW[:, j] + X[i]
                dW[:, label] = dW[:, label] - X[i]
    loss = loss / len(y)
    dW = dW / len(y)
    return _add_reg(loss, dW, W, reg)


def svm_loss_vectorized(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float,
                        delta: float = DELTA):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    scores = _scores(W, X)
    margins = torch.clamp(scores - _pick(scores, y).unsqueeze(1) + delta, min=0)
    margins[rows, y] = 0
    coeff = torch.zeros_like(margins)
    coeff += margins > 0
    coeff[rows, y] = -torch.sum(coeff, dim=1)
    loss = margins.sum() / N
    dW = X.t() @ coeff / N
    return _add_reg(loss, dW, W, reg)


def softmax_loss_naive(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float):
    """Softmax (cross-entropy) loss and its gradient, computed with loops."""
    N, C = X.shape[0], W.shape[1]
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    for i in range(N):
        log_p = _log_softmax_row(_scores(W, X[i]))
        label = int(y[i])
        loss = loss - log_p[label]
        p = torch.exp(log_p)
        for j in range(C):
            dW[:, j] += (p[j] - float(j == label)) * X[i]
    loss = loss / N
    dW = dW / N
    return _add_reg(loss, dW, W, reg)


def softmax_loss_vectorized(W: torch.Tensor, X: torch.Tensor, y: torch.Tensor, reg: float):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    shifted = _scores(W, X)
    shifted = shifted - shifted.amax(dim=1, keepdim=True)
    lse = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
    loss = torch.mean(lse.squeeze(1) - _pick(shifted, y))
    dS = torch.exp(shifted - lse)
    dS[rows, y] -= 1
    dW = X.t() @ dS / N
    return _add_reg(loss, dW, W, reg)


def sample_batch(X: torch.Tensor, y: torch.Tensor, num_train: int, batch_size: int):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(low=0, high=num_train, size=[batch_size], device=X.device)
    return X[idx], y[idx]


def train_linear_classifier(
    loss_func,
    W,
    X,
    y,
    learning_rate=1e-3,
    reg=1e-5,
    num_iters=100,
    batch_size=200,
    verbose=False,
):
    """Train a linear classifier with minibatch stochastic gradient descent."""
    num_train, dim = X.shape
    if W is None:
        num_classes = int(torch.max(y).item()) + 1
        W = 1e-6 * torch.randn(dim, num_classes, device=X.device, dtype=X.dtype)

    loss_history = []
    for it in range(num_iters):
        X_batch, y_batch = sample_batch(X, y, num_train, batch_size)
        loss, grad = loss_func(W, X_batch, y_batch, reg)
        loss_history.append(loss.item())
        W -= learning_rate * grad

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Predict labels with a trained linear classifier."""
    return torch.argmax(_scores(W, X), dim=-1)


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    base_lr, base_reg = 3e-3, 1e-1
    learning_rates = [base_lr * m for m in (1 / 3, 1.0, 3.0)]
    regularization_strengths = [base_reg * m for m in (0.1, 1.0, 3.0)]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    base_lr, base_reg = 1e-2, 1e-3
    learning_rates = [base_lr * m for m in (0.5, 1.0, 2.0)]
    regularization_strengths = [base_reg * m for m in (0.1, 1.0)]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    train_acc = torch.mean((cls.predict(data_dict["X_train"]) == data_dict["y_train"]).double()).item()
    val_acc = torch.mean((cls.predict(data_dict["X_val"]) == data_dict["y_val"]).double()).item()
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


if __name__ == "__main__":
    # quick self-test: naive and vectorized agree on random data
    torch.manual_seed(0)
    W0 = 1e-3 * torch.randn(20, 4, dtype=torch.float64)
    X0 = torch.randn(16, 20, dtype=torch.float64)
    y0 = torch.randint(0, 4, (16,))
    for naive, vec in ((svm_loss_naive, svm_loss_vectorized),
                       (softmax_loss_naive, softmax_loss_vectorized)):
        (l1, g1), (l2, g2) = naive(W0, X0, y0, 0.1), vec(W0, X0, y0, 0.1)
        print(naive.__name__, float((l1 - l2).abs()), float((g1 - g2).abs().max()))
