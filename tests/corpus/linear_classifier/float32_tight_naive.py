"""Part 1: linear classifiers (multiclass SVM and Softmax) on CIFAR-10.

Corpus variant "float32_tight_naive": identical to float32_accumulation.py
except softmax_loss_naive, which is a tight loop over the examples only
(allowed by its docstring: "loop over the examples (and, if you like, the
classes)"): per example ``s - s.max()``, exp, sum, ``log(z) - s[y_i]``,
``e /= z``, ``e[y_i] -= 1``, ``dW += torch.outer(X[i], e)``.

It exists to show that the timing check "softmax_loss_vectorized is much
faster than softmax_loss_naive" compares against the student's own naive
function: a good naive leaves a ratio close to the 3x floor, and CPU timing
noise then fails a vectorized function that runs at the reference's speed.

Other functions (see float32_accumulation.py): svm naive classes outer /
examples inner; in-place vectorized SVM with ``sign_()``; in-place vectorized
softmax (``sub_``, ``exp_``, ``div_``); ``randint(num_train, ...)`` +
``index_select``; ``W.sub_``; ``max(dim=1).indices``; ``sum().item() / n``;
list grids.
"""

import torch

__all__ = [
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "sample_batch",
    "train_linear_classifier",
    "predict_linear_classifier",
    "svm_get_search_params",
    "softmax_get_search_params",
    "test_one_param_set",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
]


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops.

    Classes outer, examples inner; all sums kept in W's dtype.
    """
    N = X.shape[0]
    C = W.shape[1]
    loss = torch.zeros((), dtype=W.dtype, device=W.device)
    dW = torch.zeros_like(W)
    scores = X @ W  # (N, C)
    for j in range(C):
        for i in range(N):
            yi = int(y[i])
            if j == yi:
                continue
            margin = scores[i, j] - scores[i, yi] + 1.0
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, yi] -= X[i]
    loss /= N
    dW /= N
    loss += reg * torch.sum(W * W)
    dW += (2 * reg) * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    coeff = torch.mm(X, W)  # scores, then margins, then the coefficients
    correct = coeff[rows, y].unsqueeze(1)
    coeff.sub_(correct).add_(1.0).clamp_(min=0.0)
    coeff[rows, y] = 0.0
    loss = coeff.sum() / N + reg * torch.sum(W * W)
    coeff.sign_()  # margins are >= 0: 1 where positive, 0 elsewhere
    coeff[rows, y] = -coeff.sum(dim=1)
    dW = torch.mm(X.t(), coeff)
    dW.div_(N)
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient: a loop over the examples."""
    dW = torch.zeros_like(W)
    loss = W.new_zeros(())
    ys = y.tolist()
    for i in range(X.shape[0]):
        xi = X[i]
        s = xi @ W
        s = s - s.max()
        e = s.exp()
        z = e.sum()
        loss += z.log() - s[ys[i]]
        e /= z
        e[ys[i]] -= 1
        dW += torch.outer(xi, e)
    return loss / X.shape[0] + reg * (W * W).sum(), dW / X.shape[0] + 2 * reg * W


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, without any Python loop."""
    N = X.shape[0]
    rows = torch.arange(N, device=X.device)
    s = torch.mm(X, W)
    s.sub_(s.max(dim=1, keepdim=True).values)
    correct = s[rows, y]
    s.exp_()
    sums = s.sum(dim=1, keepdim=True)
    loss = (torch.log(sums).squeeze(1) - correct).sum() / N
    loss = loss + reg * torch.sum(W * W)
    s.div_(sums)
    s[rows, y] -= 1.0
    s.div_(N)
    dW = torch.mm(X.t(), s)
    dW.add_(W, alpha=2 * reg)
    return loss, dW


def sample_batch(X, y, num_train, batch_size):
    """Sample a random minibatch of examples, with replacement."""
    idx = torch.randint(num_train, (batch_size,), device=X.device)
    X_batch = X.index_select(0, idx)
    y_batch = y.index_select(0, idx)
    return X_batch, y_batch


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
        loss_history.append(float(loss))
        W.sub_(learning_rate * grad)

        if verbose and it % 100 == 0:
            print("iteration %d / %d: loss %f" % (it, num_iters, loss_history[-1]))

    return W, loss_history


def predict_linear_classifier(W, X):
    """Predict labels with a trained linear classifier."""
    scores = torch.mm(X, W)
    y_pred = scores.max(dim=1).indices
    return y_pred


def svm_get_search_params():
    """Return the candidate hyperparameters for the linear SVM."""
    learning_rates = [3e-3, 5e-3]
    regularization_strengths = [3e-2, 1e-1, 3e-1]
    return learning_rates, regularization_strengths


def softmax_get_search_params():
    """Return the candidate hyperparameters for the Softmax classifier."""
    learning_rates = [1e-2, 2e-2, 3e-2]
    regularization_strengths = [1e-4, 1e-3]
    return learning_rates, regularization_strengths


def test_one_param_set(cls, data_dict, lr, reg, num_iters=2000):
    """Train one classifier with one hyperparameter pair and measure it."""
    train_acc = 0.0
    val_acc = 0.0
    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)
    y_tr = data_dict["y_train"]
    y_va = data_dict["y_val"]
    train_acc = (cls.predict(data_dict["X_train"]) == y_tr).sum().item() / y_tr.shape[0]
    val_acc = (cls.predict(data_dict["X_val"]) == y_va).sum().item() / y_va.shape[0]
    return cls, train_acc, val_acc


# ---------------------------------------------------------------------------
# Classifier objects (given: nothing to write below)
# ---------------------------------------------------------------------------


class LinearClassifier:
    """A linear classifier: weights ``self.W`` of shape (D, C), or None."""

    def __init__(self):
        self.W = None

    def train(
        self,
        X_train,
        y_train,
        learning_rate=1e-3,
        reg=1e-5,
        num_iters=100,
        batch_size=200,
        verbose=False,
    ):
        """Train with ``train_linear_classifier``; returns the loss history.

        Training continues from ``self.W`` when the model already has weights.
        """
        self.W, loss_history = train_linear_classifier(
            self.loss,
            self.W,
            X_train,
            y_train,
            learning_rate,
            reg,
            num_iters,
            batch_size,
            verbose,
        )
        return loss_history

    def predict(self, X):
        """Labels of X (N, D) as an int64 tensor of shape (N,)."""
        return predict_linear_classifier(self.W, X)

    def loss(self, W, X_batch, y_batch, reg):
        """Loss and gradient for weights W on a minibatch; subclasses define it.

        Inputs:
        - W: torch.Tensor of shape (D, C).
        - X_batch: torch.Tensor of shape (N, D).
        - y_batch: torch.Tensor of shape (N,), int64.
        - reg: float.

        Returns (loss, dW) like the loss functions above.
        """
        raise NotImplementedError

    def _loss(self, X_batch, y_batch, reg):
        """Loss and gradient of the current weights ``self.W``."""
        return self.loss(self.W, X_batch, y_batch, reg)

    def save(self, path):
        """Save the weights to ``path`` (a ``.pt`` file)."""
        torch.save({"W": self.W}, path)
        print("Saved in {}".format(path))

    def load(self, path):
        """Load weights saved by ``save``, onto the CPU."""
        W_dict = torch.load(path, map_location="cpu", weights_only=True)
        self.W = W_dict["W"]
        print("Loaded checkpoint file: {}".format(path))


class LinearSVM(LinearClassifier):
    """A linear classifier trained with the multiclass SVM loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return svm_loss_vectorized(W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier trained with the Softmax (cross-entropy) loss."""

    def loss(self, W, X_batch, y_batch, reg):
        return softmax_loss_vectorized(W, X_batch, y_batch, reg)
