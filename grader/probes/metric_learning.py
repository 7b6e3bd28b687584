"""Probes for Part 2 (metric learning); they run inside the sandbox with the student's module.

They hold no expected values and no thresholds. Modules never cross the boundary: the
probes send back state dicts, embeddings, indices and numbers, which the parent checks.
Whether the student's code wrote into its inputs is not a probe's business: the parent passes
those inputs as ``wire.Watched`` shared memory and reads any change there itself. So probes
never write into the tensors they are given (they only read them and hand them on).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from grader.probes import probe, registered_parameters


def _gen(seed: int, device: str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(int(seed))


@probe
def batches(module: Any, X: torch.Tensor, y: torch.Tensor, batch_size: int, draws: int, seed: int) -> dict[str, Any]:
    """``draws`` batches from one generator seeded with ``seed``; a repeat of the first two with a
    fresh generator of the same seed, and one with ``seed + 1``. Row ids are ``X[:, 0, 0, 0]``.
    X and y are the parent's watched tensors: every call gets them as they are (never a copy)."""

    def run(s: int, n: int) -> tuple[Any, ...]:
        gen = _gen(s)
        first, ids, labels = None, [], []
        for i in range(n):
            Xb, yb = module.get_data_batch(X, y, batch_size, gen)
            if i == 0:
                first = (Xb, yb)
            if not isinstance(Xb, torch.Tensor) or not isinstance(yb, torch.Tensor) or Xb.dim() < 1:
                return first, None, None
            ids.append(Xb.reshape(Xb.shape[0], -1)[:, 0].reshape(-1))
            labels.append(yb.reshape(-1))
        return first, torch.cat(ids), torch.cat(labels)

    first, ids, labels = run(seed, draws)
    _, again, _ = run(seed, 2)
    _, other, _ = run(seed + 1, 2)
    return {"first": first, "ids": ids, "labels": labels, "again": again, "other": other}


@probe
def one_batch(module: Any, X: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int) -> Any:
    """``get_data_batch(X, y, batch_size, Generator(seed))``."""
    return module.get_data_batch(X, y, batch_size, _gen(seed))


@probe
def one_triplet_sample(module: Any, labels: torch.Tensor, seed: int) -> Any:
    """``sample_triplets(labels, Generator(seed))``."""
    return module.sample_triplets(labels, _gen(seed))


@probe
def triplets(module: Any, labels: torch.Tensor, seeds: list[int]) -> dict[str, Any]:
    """``sample_triplets(labels, Generator(seed))`` once per seed, on the same (watched) labels."""
    return {"outs": [module.sample_triplets(labels, _gen(s)) for s in seeds]}


@probe
def triplet_draws(module: Any, labels: torch.Tensor, draws: int, seed: int) -> dict[str, Any]:
    """``draws`` calls of sample_triplets sharing one generator, stacked as (draws, M) each."""
    gen = _gen(seed)
    a_s: list[torch.Tensor] = []
    p_s: list[torch.Tensor] = []
    n_s: list[torch.Tensor] = []
    for i in range(draws):
        out = module.sample_triplets(labels, gen)
        if not isinstance(out, (tuple, list)) or len(out) != 3 or not all(isinstance(t, torch.Tensor) for t in out):
            return {"first": out, "stacked": None}
        a, p, n = (t.reshape(-1) for t in out)
        if a_s and (a.shape != a_s[0].shape or p.shape != a.shape or n.shape != a.shape):
            return {"first": out, "stacked": None}
        a_s.append(a)
        p_s.append(p)
        n_s.append(n)
    return {"stacked": (torch.stack(a_s), torch.stack(p_s), torch.stack(n_s))}


@probe
def triplet_seeding(module: Any, labels: torch.Tensor, seed: int) -> dict[str, Any]:
    """Same generator seed twice, another seed, and the global generator under torch.manual_seed."""
    same1 = module.sample_triplets(labels, _gen(seed))
    same2 = module.sample_triplets(labels, _gen(seed))
    other = module.sample_triplets(labels, _gen(seed + 1))
    torch.manual_seed(seed)
    global1 = module.sample_triplets(labels, None)
    torch.manual_seed(seed)
    global2 = module.sample_triplets(labels, None)
    torch.manual_seed(seed + 1)
    global3 = module.sample_triplets(labels, None)
    return {"same1": same1, "same2": same2, "other": other, "global1": global1, "global2": global2,
            "global3": global3}


@probe
def encoder_outputs(module: Any, X: torch.Tensor, z_dims: list[int], seed: int) -> dict[str, Any]:
    """Forward passes of fresh encoders in eval mode: ``Encoder()`` and ``Encoder(z_dim=d)``, all on
    the same (watched) X; ``X[:1]`` is a view of it."""
    out: dict[str, Any] = {}
    torch.manual_seed(seed)
    enc = module.Encoder()
    enc.eval()
    with torch.no_grad():
        out["default"] = enc(X)
        out["single"] = enc(X[:1])
    for d in z_dims:
        torch.manual_seed(seed)
        e = module.Encoder(z_dim=d)
        e.eval()
        with torch.no_grad():
            out[f"z{d}"] = e(X)
    return out


@probe
def encoder_report(module: Any, X: torch.Tensor, seed: int) -> dict[str, Any]:
    """Parameter count, eval-mode repeatability, batch independence and which parameters get gradients."""
    torch.manual_seed(seed)
    enc = module.Encoder(z_dim=64)
    enc.train()
    for _ in range(2):  # a few training-mode passes so that batch statistics are not the initial ones
        with torch.no_grad():
            enc(X)
    # counted after a forward pass, so that lazy layers (nn.LazyLinear) have their size
    params = [(name, int(torch.Tensor.numel(p))) for name, p in registered_parameters(enc)]
    enc.eval()
    with torch.no_grad():
        first = enc(X)
        second = enc(X)
        head = enc(X[:3])
    enc.train()
    enc.zero_grad()
    z = enc(X)
    z.pow(2).mean().backward()
    grads = {name: (p.grad is not None, bool(p.grad is not None and torch.isfinite(p.grad).all()),
                    float(p.grad.abs().sum()) if p.grad is not None else 0.0)
             for name, p in registered_parameters(enc)}
    return {"params": params, "first": first, "second": second, "head": head, "grads": grads}


@probe
def encoder_forward_repeat(module: Any, X: torch.Tensor, repeat: int) -> Any:
    """``repeat`` eval-mode forward passes over X (the parent times this probe's CPU use); the output
    of the last pass is sent back (copied as the request ends, inside the timing), so a pass cannot
    leave its work for later."""
    enc = module.Encoder()
    enc.eval()
    out = None
    with torch.no_grad():
        for _ in range(repeat):
            out = enc(X)
    return out


@probe
def calibration_forward_repeat(module: Any, X: torch.Tensor, repeat: int) -> bool:
    """The yardstick of the encoder's time limit: a plain convolutional encoder of the kind courses teach
    (3x3 convolutions with 32, 64 and 64 channels at full resolution, each followed by ReLU and 2x2 max
    pooling, then a linear layer to 64), ``repeat`` eval-mode forward passes over X. The parent times it
    in a session without student code (``module`` is None); being convolution-bound like the encoders it
    measures, it slows down with them when the machine is loaded, so their ratio stays put."""
    torch.manual_seed(0)
    blocks: list[nn.Module] = []
    for c_in, c_out in ((3, 32), (32, 64), (64, 64)):
        blocks.append(nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)))
    net = nn.Sequential(*blocks, nn.Flatten(), nn.Linear(64 * 4 * 4, 64)).eval()
    with torch.no_grad():
        for _ in range(repeat):
            net(X)
    return True


class _LinearEncoder(nn.Module):
    """The grader's own encoder for the training-step check: Z = X.flatten(1) @ W."""

    def __init__(self, W: torch.Tensor) -> None:
        super().__init__()
        self.W = nn.Parameter(W.clone())
        _MODES[id(self)] = []  # out of the student's reach (not an attribute of the model it is given)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _MODES[id(self)].append(self.training)
        return x.flatten(1) @ self.W


_MODES: dict[int, list[bool]] = {}  # per _LinearEncoder: training mode of each forward pass


@probe
def train_steps(module: Any, X: torch.Tensor, y: torch.Tensor, W0: torch.Tensor, lr: float, seeds: list[int],
                y_single_class: torch.Tensor) -> dict[str, Any]:
    """Consecutive triplet_train_step calls on the grader's linear encoder with plain SGD.

    Before each step the triplets the step should draw are taken from sample_triplets with an
    identically seeded generator. A last call uses a batch with one class only.
    """
    enc = _LinearEncoder(W0)
    weight = enc.W  # the grader's own parameter, whatever the student's code assigns to enc.W
    modes = _MODES[id(enc)]
    try:
        return _steps(module, enc, weight, modes, X, y, lr, seeds, y_single_class)
    finally:
        _MODES.pop(id(enc), None)


def _steps(module: Any, enc: _LinearEncoder, weight: torch.Tensor, modes: list[bool], X: torch.Tensor,
           y: torch.Tensor, lr: float, seeds: list[int], y_single_class: torch.Tensor) -> dict[str, Any]:
    opt = torch.optim.SGD([weight], lr=lr)
    steps = []
    for s in seeds:
        trip = module.sample_triplets(y, _gen(s))
        enc.eval()
        modes.clear()
        loss = module.triplet_train_step(enc, opt, X, y, _gen(s))
        steps.append({"triplets": trip, "loss": loss, "W": torch.Tensor.clone(torch.Tensor.detach(weight)),
                      "modes": list(modes)})
    modes.clear()
    W_before = torch.Tensor.clone(torch.Tensor.detach(weight))
    try:
        loss = module.triplet_train_step(enc, opt, X[:len(y_single_class)], y_single_class, _gen(0))
    except Exception as exc:  # noqa: BLE001 - reported to the parent as data
        return {"steps": steps, "single": {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}}
    single = {"loss": loss, "W_before": W_before, "W": torch.Tensor.clone(torch.Tensor.detach(weight))}
    return {"steps": steps, "single": single}


@probe
def linear_probe(module: Any, Z: torch.Tensor, y: torch.Tensor, num_classes: int, Zq: torch.Tensor,
                 seed: int) -> dict[str, Any]:
    """fit_linear_probe on the (watched) Z and y; sends its state dict and its logits on the queries Zq."""
    torch.manual_seed(seed)
    clf = module.fit_linear_probe(Z, y, num_classes)
    if not isinstance(clf, nn.Module):
        return {"module": False, "returned": clf}
    with torch.no_grad():
        logits = clf(Zq)
    state = {k: v.detach().clone() for k, v in clf.state_dict().items()}
    return {"module": True, "type": type(clf).__name__, "state": state, "logits": logits}


@torch.no_grad()
def _embed(enc: nn.Module, X: torch.Tensor, device: str, batch: int = 250) -> torch.Tensor:
    enc.eval()
    out = []
    for i in range(0, X.shape[0], batch):
        z = enc(X[i:i + batch].to(device))
        out.append(z.detach().float().cpu() if isinstance(z, torch.Tensor) else z)
    return torch.cat(out) if all(isinstance(z, torch.Tensor) for z in out) else out[0]


@probe
def train_and_embed(module: Any, X: torch.Tensor, y: torch.Tensor, Xq: torch.Tensor, steps: int,
                    batch_size: int, lr: float, seed: int, device: str = "cpu") -> dict[str, Any]:
    """Train ``Encoder(z_dim=64)`` with the student's get_data_batch and triplet_train_step (grader's loop,
    Adam, fixed seeds); embeddings of X and of the held-out Xq before and after training."""
    torch.manual_seed(seed)
    enc = module.Encoder(z_dim=64)
    fallback = None
    try:
        enc, X, y = enc.to(device), X.to(device), y.to(device)
    except (RuntimeError, AssertionError) as exc:  # e.g. CUDA unusable under the sandbox's limits
        fallback = f"{type(exc).__name__}: {str(exc)[:200]}"
        device = "cpu"
        enc, X, y = enc.to(device), X.to(device), y.to(device)
    before = (_embed(enc, X, device), _embed(enc, Xq, device))
    opt = torch.optim.Adam(enc.parameters(), lr=lr)
    gen = _gen(seed, device)
    history = []
    for _ in range(steps):
        Xb, yb = module.get_data_batch(X, y, batch_size, gen)
        loss = module.triplet_train_step(enc, opt, Xb, yb, gen)
        if loss is not None:
            history.append(float(loss))
    after = (_embed(enc, X, device), _embed(enc, Xq, device))
    return {"before": before, "after": after, "history": history, "device": device, "fallback": fallback}
