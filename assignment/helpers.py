"""Helpers for the assignment notebooks: seeding, gradient checks, data, plots.

Nothing to implement here. Import what you need in a notebook with e.g.
``from helpers import reset_seed, rel_error, grad_check_sparse``.
"""

import random

import torch

__all__ = [
    "reset_seed",
    "rel_error",
    "compute_numeric_gradient",
    "grad_check_sparse",
    "get_cifar10_data",
    "plot_templates",
    "plot_grid",
    "CIFAR10_CLASSES",
]

CIFAR10_CLASSES = (
    "plane", "car", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)


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
      usual places (and use the offline sample when nothing else is there).
    - bias_trick: bool, append the column of ones.
    - dtype: torch dtype of the X tensors.
    - validation_ratio: float, the fraction of the training images held out
      for validation.
    - seed: int, the seed of the train/validation split.
    - flatten: bool, flatten each image into a row vector.
    - device: where to put the tensors, e.g. "cpu" or "cuda".
    """
    from grader import data  # imported here: only this function needs it

    return data.preprocess_cifar10(
        root=root,
        bias_trick=bias_trick,
        dtype=dtype,
        validation_ratio=validation_ratio,
        seed=seed,
        flatten=flatten,
        device=device,
    )


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
