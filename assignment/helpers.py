"""Helpers for the assignment notebooks: seeding, gradient checks, data, plots, the self-check.

Nothing to implement here. Import what you need in a notebook with e.g.
``from helpers import reset_seed, rel_error, grad_check_sparse``.

Run lengths: the notebooks size their training runs with ``budget(full, smoke=...)``; when
you run a notebook, ``budget`` returns ``full``. The course's test suite sets the environment variable
``NOTEBOOK_SMOKE=1`` to execute every notebook quickly from start to end; then ``budget``
returns the ``smoke`` value and the data loaders keep only the first few hundred images of
each split (``SMOKE_SIZES``). Leave ``NOTEBOOK_SMOKE`` unset.
"""

import importlib.util
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import torch

__all__ = [
    "SMOKE",
    "SMOKE_SIZES",
    "budget",
    "reset_seed",
    "rel_error",
    "compute_numeric_gradient",
    "grad_check_sparse",
    "get_cifar10_data",
    "get_mnist_data",
    "plot_templates",
    "plot_grid",
    "self_check",
    "CIFAR10_CLASSES",
]

#: True when the test suite runs the notebooks in smoke-test mode (``NOTEBOOK_SMOKE=1``).
SMOKE = os.environ.get("NOTEBOOK_SMOKE") == "1"
#: Images kept per split by the data loaders in smoke-test mode.
SMOKE_SIZES = {"train": 600, "val": 300, "test": 1000}

# Where this file is: the folder of the notebooks and of the files you write.
_HERE = Path(__file__).resolve().parent

CIFAR10_CLASSES = (
    "plane", "car", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


def budget(full, *, smoke):
    """How long to run something: ``full`` normally, ``smoke`` in the test suite's smoke test.

    E.g. ``NUM_STEPS = budget(1500, smoke=40)`` trains 1500 steps when you run the notebook,
    and 40 when the test suite executes it with ``NOTEBOOK_SMOKE=1``.
    """
    return smoke if SMOKE else full


def reset_seed(number):
    """Seed Python's ``random`` module and torch's global generator.

    Inputs:
    - number: int, the seed.
    """
    random.seed(number)
    torch.manual_seed(number)


def rel_error(x, y, eps=1e-10):
    """Largest relative error between two tensors, as a Python float.

    Computes ``max |x - y| / (|x| + |y|)`` elementwise, with ``eps`` added to
    the denominator so that two zeros count as equal.

    Inputs:
    - x, y: torch.Tensor of the same shape (or Python numbers).
    - eps: float, a small constant that keeps the denominator positive.

    Returns:
    - float: the largest elementwise relative error; values around 1e-7 or
      less mean the two agree (for float64 inputs).
    """
    x = torch.as_tensor(x)
    y = torch.as_tensor(y)
    top = (x - y).abs()
    bot = (x.abs() + y.abs()).clamp(min=eps)
    return (top / bot).max().item()


def compute_numeric_gradient(f, x, h=1e-7):
    """Numeric gradient of a scalar function by central differences.

    Inputs:
    - f: a function taking x and returning a scalar (a Python number or a
      0-dimensional tensor).
    - x: torch.Tensor, the point at which to evaluate the gradient. It is
      perturbed in place and restored afterwards.
    - h: float, the step size.

    Returns:
    - grad: torch.Tensor of x's shape, dtype and device, with
      ``grad[i] = (f(x + h e_i) - f(x - h e_i)) / (2 h)``.

    This evaluates f twice per element of x: use it on small inputs only, or
    use ``grad_check_sparse`` for large ones.
    """
    if not x.is_contiguous():
        raise ValueError("compute_numeric_gradient needs a contiguous tensor")
    flat_x = x.view(-1)  # shares memory with x
    grad = torch.zeros_like(x)
    flat_grad = grad.view(-1)
    for i in range(flat_x.shape[0]):
        old_value = flat_x[i].item()
        flat_x[i] = old_value + h
        pos = float(f(x))
        flat_x[i] = old_value - h
        neg = float(f(x))
        flat_x[i] = old_value
        flat_grad[i] = (pos - neg) / (2 * h)
    return grad


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-7):
    """Compare an analytic gradient with central differences at random entries.

    For ``num_checks`` randomly chosen coordinates ``ix`` of x, prints the
    numeric derivative, the analytic one ``analytic_grad[ix]`` and their
    relative error. Use float64 tensors: float32 is too coarse for h = 1e-7.

    Inputs:
    - f: a function taking x and returning a scalar (a Python number or a
      0-dimensional tensor), e.g. ``lambda W: svm_loss_naive(W, X, y, 0.0)[0]``.
    - x: torch.Tensor, the point of evaluation; perturbed in place and
      restored.
    - analytic_grad: torch.Tensor of x's shape, the gradient to check.
    - num_checks: int, how many coordinates to check.
    - h: float, the step size.

    Returns:
    - float: the largest relative error among the checked coordinates.
    """
    worst = 0.0
    for _ in range(num_checks):
        ix = tuple(random.randrange(m) for m in x.shape)
        old_value = x[ix].item()
        x[ix] = old_value + h
        fxph = float(f(x))
        x[ix] = old_value - h
        fxmh = float(f(x))
        x[ix] = old_value

        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = float(analytic_grad[ix])
        rel = abs(grad_numerical - grad_analytic) / max(
            abs(grad_numerical) + abs(grad_analytic), 1e-12
        )
        worst = max(worst, rel)
        print(
            "numerical: %f analytic: %f, relative error: %e"
            % (grad_numerical, grad_analytic, rel)
        )
    return worst


def _data_module():
    """``grader.data``, the loaders the grader itself uses, or an ImportError that says what to do."""
    try:
        from grader import data
    except ModuleNotFoundError as exc:
        if exc.name != "grader":
            raise
        raise ImportError(
            "the data loaders live in the grader package, which Python cannot import here: unzip the "
            "whole bundle so that the folder grader/ sits next to this notebook (and helpers.py)"
        ) from exc
    return data


def _load(loader, **options):
    """``grader.data.<loader>(**options)``, each split cut to ``SMOKE_SIZES`` in smoke-test mode."""
    data = getattr(_data_module(), loader)(**options)
    if SMOKE:
        for split, size in SMOKE_SIZES.items():
            data["X_" + split] = data["X_" + split][:size]
            data["y_" + split] = data["y_" + split][:size]
    return data


def get_cifar10_data(
    root=None,
    *,
    bias_trick=True,
    dtype=torch.float32,
    validation_ratio=0.2,
    seed=0,
    flatten=True,
    device="cpu",
):
    """Load CIFAR-10, preprocessed for the linear classifiers.

    Returns a dict with the keys 'X_train', 'y_train', 'X_val', 'y_val',
    'X_test', 'y_test' (and 'profile', naming the data that was found: the
    full dataset or the small offline sample). With the defaults, each X is a
    float32 tensor of shape (N, 3073): pixels in [0, 1] minus the mean of the
    training images, flattened, with a column of ones appended (the bias
    trick); each y is an int64 tensor of shape (N,).

    Inputs:
    - root: folder holding the data, or None to let the loader look in the
      usual places ($GRADER_DATA, then ~/.cache/grader/data, where
      ``python -m grader download-data`` puts it).
    - bias_trick: bool, append the column of ones.
    - dtype: torch dtype of the X tensors.
    - validation_ratio: float, the fraction of the training images held out
      for validation.
    - seed: int, the seed of the train/validation split.
    - flatten: bool, flatten each image into a row vector; False keeps the
      shape (N, 3, 32, 32) (then bias_trick must be False).
    - device: where to put the tensors, e.g. "cpu" or "cuda".
    """
    return _load("preprocess_cifar10", root=root, bias_trick=bias_trick, dtype=dtype,
                 validation_ratio=validation_ratio, seed=seed, flatten=flatten, device=device)


def get_mnist_data(root=None, *, dtype=torch.float32, validation_ratio=0.1, seed=0, flatten=True, device="cpu"):
    """Load MNIST: pixels scaled to [0, 1], a seeded train/validation split.

    Returns a dict with the keys 'X_train', 'y_train', 'X_val', 'y_val',
    'X_test', 'y_test' (and 'profile': "full" for the full dataset, 54,000 /
    6,000 / 10,000 images, or "sample" for the offline sample, 9,000 / 1,000 /
    10,000). With the defaults, each X is a float32 tensor of shape (N, 784),
    one flattened 28x28 image a row; each y is an int64 tensor of shape (N,)
    holding the digit.

    Inputs:
    - root: folder holding the data, or None to let the loader look in the
      usual places (as for get_cifar10_data).
    - dtype: torch dtype of the X tensors.
    - validation_ratio: float, the fraction of the training images held out
      for validation.
    - seed: int, the seed of the train/validation split.
    - flatten: bool, flatten each image; False keeps the shape (N, 1, 28, 28).
    - device: where to put the tensors, e.g. "cpu" or "cuda".
    """
    return _load("preprocess_mnist", root=root, dtype=dtype, validation_ratio=validation_ratio, seed=seed,
                 flatten=flatten, device=device)


def plot_templates(W, classes=CIFAR10_CLASSES):
    """Show the learned weights of each class as a 32x32 colour image.

    Inputs:
    - W: torch.Tensor of shape (3073, C) (bias row last) or (3072, C): the
      weights of a trained linear classifier, on any device.
    - classes: the C class names used as titles.

    Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt

    W = W.detach().cpu().double()
    if W.shape[0] == 3 * 32 * 32 + 1:
        W = W[:-1]  # drop the bias row
    num_classes = W.shape[1]
    w = W.t().reshape(num_classes, 3, 32, 32)
    w_min, w_max = w.min(), w.max()
    w = 255.0 * (w - w_min) / (w_max - w_min).clamp(min=1e-12)

    fig, axes = plt.subplots(1, num_classes, figsize=(1.6 * num_classes, 2.2))
    for i, ax in enumerate(axes.flat):
        img = w[i].permute(1, 2, 0).numpy().astype("uint8")
        ax.imshow(img)
        ax.axis("off")
        if i < len(classes):
            ax.set_title(classes[i])
    fig.tight_layout()
    return fig


def plot_grid(results, title="validation accuracy"):
    """Plot the validation accuracy over a (learning rate, reg) grid.

    Inputs:
    - results: dict mapping ``(learning_rate, reg)`` to
      ``(train_acc, val_acc)`` (fractions in [0, 1]), as filled by the grid
      search in the notebook.
    - title: str, the title of the plot.

    Returns the matplotlib figure: one coloured square per pair on log axes,
    labelled with its validation accuracy in percent.
    """
    import math

    import matplotlib.pyplot as plt

    keys = sorted(results)
    lrs = [math.log10(k[0]) for k in keys]
    regs = [math.log10(k[1]) for k in keys]
    vals = [100.0 * results[k][1] for k in keys]

    fig, ax = plt.subplots(figsize=(6, 4.5))
    sc = ax.scatter(lrs, regs, c=vals, s=900, marker="s", cmap="viridis")
    for x, r, v in zip(lrs, regs, vals):
        ax.annotate("%.1f" % v, (x, r), ha="center", va="center", fontsize=8,
                    color="white")
    fig.colorbar(sc, ax=ax, label="validation accuracy (%)")
    ax.set_xlabel("log10 learning rate")
    ax.set_ylabel("log10 regularization strength")
    ax.set_title(title)
    ax.margins(0.2)
    fig.tight_layout()
    return fig


_UNZIP_HINT = (
    "The checker (the folder grader/ of the assignment's bundle) is not next to your files in {folder}.\n"
    "Unzip the whole bundle so that grader/ sits next to this notebook (and helpers.py), then run this cell "
    "again; on Colab, upload the unzipped folder and `%cd` into it first."
)
_MISSING_RE = re.compile(r"No module named '?([\w.]+)'?\s*$")


def self_check(part, folder=None):
    """Run the public checks of one part on your saved files and print the table.

    The same as ``python -m grader check --part PART FOLDER`` in a terminal: the
    checker runs in a separate Python process, on the files as they are saved on
    disk (save your .py file first), never on what this notebook defined. It
    prints its progress, then the table of points and a message for each check
    that did not pass. These are the public checks only: the autograder runs
    more.

    Inputs:
    - part: the part's name, e.g. "linear_classifier", or its number, e.g. 1.
    - folder: the folder holding your files; by default the one holding this
      helpers.py, i.e. the notebook's.
    """
    folder = Path(folder).resolve() if folder is not None else _HERE
    if not (folder / "grader" / "__main__.py").is_file() and importlib.util.find_spec("grader") is None:
        print(_UNZIP_HINT.format(folder=folder))
        return
    command = [sys.executable, "-m", "grader", "check", "--part", str(part), str(folder)]
    env = dict(os.environ, PYTHONIOENCODING="utf-8", PYTHONUNBUFFERED="1")
    last = ""
    with subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          encoding="utf-8", errors="replace") as proc:
        try:
            for line in proc.stdout:  # as it comes, so that the progress shows while the checks run
                print(line, end="", flush=True)
                last = line.strip() or last
        finally:
            if proc.poll() is None:  # interrupted: stop the checker too
                proc.kill()
    missing = _MISSING_RE.search(last) if proc.returncode else None
    if missing and missing.group(1).split(".")[0] == "grader":
        print(_UNZIP_HINT.format(folder=folder))
    elif missing:
        print(f"\nThe checker needs the package {missing.group(1)!r}: install what STUDENT_README.md lists "
              "(its set-up section), then run this cell again.")
    elif proc.returncode:
        print(f"\nThe checker stopped with exit status {proc.returncode}; the lines above say why.")
