"""Fast tests of the Part 1 reference solution (solutions/linear_classifier.py)."""

import importlib
import math
import sys
from pathlib import Path

import pytest
import torch

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"

D, C, N = 41, 7, 23


def _import_solution(name):
    """Import solutions/<name>.py through sys.path, leaving sys.modules as it was."""
    saved = sys.modules.pop(name, None)
    sys.path.insert(0, str(SOLUTIONS))
    try:
        module = importlib.import_module(name)
    finally:
        sys.path.remove(str(SOLUTIONS))
        if saved is not None:
            sys.modules[name] = saved
        else:
            sys.modules.pop(name, None)
    assert Path(module.__file__).resolve().parent == SOLUTIONS
    return module


@pytest.fixture(scope="module")
def lc():
    return _import_solution("linear_classifier")


@pytest.fixture(scope="module")
def helpers():
    return _import_solution("helpers")


def make_problem(seed, n=N, d=D, c=C, dtype=torch.float64, scale=1e-2):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=dtype)
    X[:, -1] = 1.0  # bias column
    W = scale * torch.randn(d, c, generator=gen, dtype=dtype)
    y = torch.randint(0, c, (n,), generator=gen)
    return W, X, y


def rel(a, b, floor=1e-30):
    """Largest elementwise relative error; `floor` bounds the denominator below."""
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return ((a - b).abs() / (a.abs() + b.abs()).clamp(min=floor)).max().item()


def numeric_grad(f, W, h=1e-6):
    W = W.clone()
    grad = torch.zeros_like(W)
    for i in range(W.shape[0]):
        for j in range(W.shape[1]):
            old = W[i, j].item()
            W[i, j] = old + h
            pos = f(W).item()
            W[i, j] = old - h
            neg = f(W).item()
            W[i, j] = old
            grad[i, j] = (pos - neg) / (2 * h)
    return grad


LOSS_PAIRS = [
    ("svm_loss_naive", "svm_loss_vectorized"),
    ("softmax_loss_naive", "softmax_loss_vectorized"),
]


@pytest.mark.parametrize("naive,vectorized", LOSS_PAIRS)
@pytest.mark.parametrize("reg", [0.0, 0.37])
@pytest.mark.parametrize("scale", [1e-2, 1.0])
def test_naive_equals_vectorized(lc, naive, vectorized, reg, scale):
    W, X, y = make_problem(1, scale=scale)
    loss_n, dW_n = getattr(lc, naive)(W, X, y, reg)
    loss_v, dW_v = getattr(lc, vectorized)(W, X, y, reg)
    assert rel(loss_n, loss_v) < 1e-10
    assert rel(dW_n, dW_v) < 1e-10
    assert loss_v.dim() == 0 and loss_v.dtype == torch.float64
    assert dW_v.shape == W.shape and dW_v.dtype == torch.float64


@pytest.mark.parametrize("name", [n for pair in LOSS_PAIRS for n in pair])
@pytest.mark.parametrize("reg", [0.0, 0.25])
def test_numeric_gradient(lc, name, reg):
    W, X, y = make_problem(2, n=9, d=6, c=4, scale=0.5)
    func = getattr(lc, name)
    if name.startswith("svm"):
        # Stay away from the kinks of the hinge: every margin at least 1e-3
        # from zero, far beyond what a step of 1e-6 can cross.
        scores = X @ W
        margins = scores - scores[torch.arange(9), y].unsqueeze(1) + 1
        margins[torch.arange(9), y] = 1.0
        assert margins.abs().min() > 1e-3
    _, dW = func(W, X, y, reg)
    num = numeric_grad(lambda w: func(w, X, y, reg)[0], W)
    # Entries that are exactly zero analytically come out as rounding noise.
    assert rel(num, dW, floor=1e-6) < 1e-6


def test_regularisation_convention(lc):
    W, X, y = make_problem(3)
    for name in ("svm_loss_vectorized", "softmax_loss_vectorized"):
        func = getattr(lc, name)
        l0, g0 = func(W, X, y, 0.0)
        l1, g1 = func(W, X, y, 2.5)
        assert rel(l1 - l0, 2.5 * (W * W).sum()) < 1e-12
        assert rel(g1 - g0, 2 * 2.5 * W) < 1e-12


def test_sanity_losses(lc):
    torch.manual_seed(0)
    X = torch.randn(500, 3073, dtype=torch.float64)
    X[:, -1] = 1.0
    y = torch.randint(0, 10, (500,))
    W = 1e-7 * torch.randn(3073, 10, dtype=torch.float64)
    svm, _ = lc.svm_loss_vectorized(W, X, y, 0.0)
    soft, _ = lc.softmax_loss_vectorized(W, X, y, 0.0)
    assert abs(svm.item() - 9.0) < 1e-3
    assert abs(soft.item() - math.log(10)) < 1e-3


def test_inputs_untouched_and_stable(lc):
    W, X, y = make_problem(4)
    copies = [t.clone() for t in (W, X, y)]
    for name in ("svm_loss_vectorized", "softmax_loss_vectorized",
                 "svm_loss_naive", "softmax_loss_naive"):
        getattr(lc, name)(W, X, y, 0.1)
        for t, c in zip((W, X, y), copies):
            assert torch.equal(t, c)
    big = 1e4 * W
    for name in ("softmax_loss_vectorized", "softmax_loss_naive"):
        loss, dW = getattr(lc, name)(big, X, y, 0.0)
        assert torch.isfinite(loss) and torch.isfinite(dW).all()


def test_float32_kept(lc):
    W, X, y = make_problem(5, dtype=torch.float32)
    for name in ("svm_loss_vectorized", "softmax_loss_vectorized"):
        loss, dW = getattr(lc, name)(W, X, y, 0.1)
        assert loss.dtype == torch.float32 and dW.dtype == torch.float32
    assert lc.predict_linear_classifier(W, X).dtype == torch.int64


@pytest.mark.parametrize("getter", ["svm_get_search_params", "softmax_get_search_params"])
def test_search_grids(lc, getter):
    lrs, regs = getattr(lc, getter)()
    assert len(lrs) >= 2 and len(regs) >= 2
    assert 5 <= len(lrs) * len(regs) <= 25
    assert all(isinstance(v, float) and v > 0 for v in list(lrs) + list(regs))


def test_sample_batch(lc):
    X = torch.arange(50, dtype=torch.float64).unsqueeze(1).repeat(1, 3)
    y = torch.arange(50)
    torch.manual_seed(7)
    Xb, yb = lc.sample_batch(X, y, 50, 400)
    assert Xb.shape == (400, 3) and yb.shape == (400,)
    assert torch.equal(Xb[:, 0].long(), yb)  # rows keep their labels
    assert len(torch.unique(yb)) > 40  # with replacement, spread over the range
    torch.manual_seed(7)
    Xb2, yb2 = lc.sample_batch(X, y, 50, 400)
    assert torch.equal(yb, yb2)
    torch.manual_seed(7)
    assert torch.equal(yb, torch.randint(0, 50, (400,)))


def test_train_update_rule(lc):
    W0 = torch.ones(4, 3, dtype=torch.float64)
    X = torch.randn(10, 4, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    calls = []

    def fake_loss(W, Xb, yb, reg):
        calls.append((Xb.shape, yb.shape, reg))
        return torch.tensor(float(len(calls)), dtype=torch.float64), torch.full_like(W, 0.5)

    W, hist = lc.train_linear_classifier(fake_loss, W0.clone(), X, y, learning_rate=0.1,
                                         reg=0.3, num_iters=6, batch_size=5)
    assert hist == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert calls == [((5, 4), (5,), 0.3)] * 6
    assert torch.allclose(W, W0 - 6 * 0.1 * 0.5)


def test_train_initialises_W(lc):
    W, X, y = make_problem(6, n=100)
    torch.manual_seed(0)
    W1, hist = lc.train_linear_classifier(lc.svm_loss_vectorized, None, X, y,
                                          num_iters=3, batch_size=10)
    assert W1.shape == (D, int(y.max()) + 1) and W1.dtype == X.dtype
    assert len(hist) == 3 and all(isinstance(h, float) for h in hist)
    assert abs(hist[0] - (C - 1)) < 1e-3  # tiny initial weights: loss ~ C - 1


def test_predict(lc):
    W, X, _ = make_problem(8)
    pred = lc.predict_linear_classifier(W, X)
    assert pred.dtype == torch.int64 and pred.shape == (N,)
    assert torch.equal(pred, (X @ W).argmax(dim=1))


class RecordingSVM:
    """Wraps a LinearSVM and records the arguments of train."""

    def __init__(self, lc):
        self.inner = lc.LinearSVM()
        self.calls = []

    def train(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        return self.inner.train(*args, **kwargs)

    def predict(self, X):
        return self.inner.predict(X)


def separable_data(seed=0, n=120, d=8, c=3):
    gen = torch.Generator().manual_seed(seed)
    centres = 5 * torch.randn(c, d - 1, generator=gen, dtype=torch.float64)
    y = torch.randint(0, c, (n,), generator=gen)
    X = centres[y] + 0.1 * torch.randn(n, d - 1, generator=gen, dtype=torch.float64)
    X = torch.cat([X, torch.ones(n, 1, dtype=torch.float64)], dim=1)
    return X, y


def test_one_param_set_contract(lc):
    X, y = separable_data()
    data = {"X_train": X[:80], "y_train": y[:80], "X_val": X[80:], "y_val": y[80:]}
    model = RecordingSVM(lc)
    torch.manual_seed(0)
    out, train_acc, val_acc = lc.test_one_param_set(model, data, 1e-2, 1e-4, num_iters=37)
    assert out is model
    assert len(model.calls) == 1
    args, kwargs = model.calls[0]
    bound = dict(zip(("X_train", "y_train", "learning_rate", "reg", "num_iters"), args))
    bound.update(kwargs)
    assert bound["num_iters"] == 37
    assert bound["learning_rate"] == 1e-2 and bound["reg"] == 1e-4
    assert isinstance(train_acc, float) and isinstance(val_acc, float)
    assert 0.0 <= train_acc <= 1.0 and 0.0 <= val_acc <= 1.0
    expected = (model.predict(data["X_val"]) == data["y_val"]).double().mean().item()
    assert val_acc == pytest.approx(expected)
    assert val_acc > 0.9  # the clusters are far apart


@pytest.mark.parametrize("cls_name", ["LinearSVM", "Softmax"])
def test_classifier_train_save_load(lc, cls_name, tmp_path, capsys):
    X, y = separable_data(1)
    model = getattr(lc, cls_name)()
    torch.manual_seed(0)
    hist = model.train(X, y, learning_rate=1e-2, reg=1e-4, num_iters=50, batch_size=20)
    assert len(hist) == 50 and hist[-1] < hist[0]
    path = tmp_path / "model.pt"
    model.save(str(path))
    other = getattr(lc, cls_name)()
    other.load(str(path))
    assert torch.equal(other.W, model.W)
    assert torch.equal(other.predict(X), model.predict(X))
    loss, dW = model.loss(model.W, X, y, 0.1)
    loss2, dW2 = model._loss(X, y, 0.1)
    assert torch.equal(loss, loss2) and torch.equal(dW, dW2)


def test_helpers(helpers):
    x = torch.randn(3, 4, dtype=torch.float64)
    assert helpers.rel_error(x, x) == 0.0
    assert helpers.rel_error(torch.tensor([1.0]), torch.tensor([3.0])) == pytest.approx(0.5)
    grad = helpers.compute_numeric_gradient(lambda t: (t * t).sum(), x.clone())
    assert helpers.rel_error(grad, 2 * x) < 1e-6
    helpers.reset_seed(0)
    worst = helpers.grad_check_sparse(lambda t: (t ** 3).sum(), x.clone(), 3 * x * x,
                                      num_checks=5)
    assert worst < 1e-6


def test_get_cifar10_data(helpers):
    from grader.errors import DataNotFoundError

    try:
        data = helpers.get_cifar10_data()
    except DataNotFoundError as exc:
        pytest.skip(f"no CIFAR-10 data: {exc}")
    for split in ("train", "val", "test"):
        X, y = data["X_" + split], data["y_" + split]
        assert X.dtype == torch.float32 and X.shape == (len(y), 3073)
        assert y.dtype == torch.int64 and int(y.min()) >= 0 and int(y.max()) <= 9
        assert torch.equal(X[:, -1], torch.ones(len(y)))
    assert data["X_train"][:, :-1].mean().abs().item() < 1e-3  # mean image subtracted
    assert data["profile"] in ("full", "sample")
