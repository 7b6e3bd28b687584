"""The bundled default submission: the reference solution, with the models it trains.

``python -m grader demo`` grades it (full marks expected); ``--stubs`` grades the
untouched student version (zero expected). Trained models are cached per reference
source and data profile, so the demo trains once per machine.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import shutil
import sys
import time
from pathlib import Path

from typing import Any, Callable

import torch

from grader.registry import Part

from grader.layout import ASSIGNMENT, solutions_dir


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "grader" / "demo"


def train_linear_models(dest: Path, data_root: Path | None = None, *, num_iters: int = 1500,
                        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, float]:
    """Run the reference's grid search (as the notebook does) and save the best SVM and softmax models.

    Returns the best validation accuracy of each model.
    """
    from grader import data
    from grader.runner import load_reference

    ref = load_reference("linear_classifier")
    prepared = data.preprocess_cifar10(root=data_root, dtype=torch.float32)
    out = {}
    threads = torch.get_num_threads()
    searches = [(kind, cls, grid()) for kind, cls, grid in (("svm", ref.LinearSVM, ref.svm_get_search_params),
                                                            ("softmax", ref.Softmax, ref.softmax_get_search_params))]
    total = sum(len(lrs) * len(regs) for _, _, (lrs, regs) in searches)
    log(f"  the reference's grid search: {total} settings of {num_iters} iterations each")
    done, started = 0, time.monotonic()
    for kind, cls, (lrs, regs) in searches:
        best: tuple[float, Any] = (-1.0, None)  # (validation accuracy, model)
        for lr in lrs:
            for reg in regs:
                torch.manual_seed(0)
                model, train_acc, val_acc = ref.test_one_param_set(cls(), prepared, lr, reg, num_iters=num_iters)
                done += 1
                left = (time.monotonic() - started) / done * (total - done)  # from the settings trained so far
                log(f"  [{done}/{total}] {kind}: lr={lr:g} reg={reg:g} train {train_acc:.3f} val {val_acc:.3f}"
                    + (f" (about {_duration(left)} left)" if done < total else ""))
                if val_acc > best[0]:
                    best = (val_acc, model)
        torch.save({"W": best[1].W}, dest / f"{kind}_best_model.pt")
        out[kind] = best[0]
    torch.set_num_threads(threads)
    return out


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _key(part: Part, data_root: Path | None) -> str:
    from grader import data

    h = hashlib.sha256((solutions_dir() / f"{part.module}.py").read_bytes())
    for name in part.datasets:
        loc = data.locate(name, data_root)
        h.update(f"{name}:{loc.profile}:{loc.root}:{loc.n_train}".encode())
    return h.hexdigest()[:16]


def _builders() -> dict[str, tuple[Part, Callable[..., object] | None]]:
    """Every declared part with its artifact builder (``Part.build_artifacts``)."""
    from grader.registry import ordered_parts

    return {part.name: (part, part.build_artifacts) for part in ordered_parts()}


def build_submission(*, stubs: bool = False, data_root: Path | None = None, parts: list[str] | None = None) -> Path:
    """A folder holding the default submission; returns its path. ``parts`` (names of declared parts):
    build the artifacts of only these parts (all when None)."""
    if stubs:
        folder = cache_root() / "stubs"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for f in ASSIGNMENT.glob("*.py"):
            shutil.copy(f, folder / f.name)
        return folder
    cache_root().mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="reference-", dir=cache_root()))
    for f in solutions_dir().glob("*.py"):
        shutil.copy(f, folder / f.name)
    for name, (part, build) in sorted(_builders().items()):
        if build is None or (parts is not None and name not in parts):
            continue
        cached = cache_root() / f"{name}-{_key(part, data_root)}"
        with open(cache_root() / f".{name}.lock", "w") as lock:
            _lock_exclusively(lock)  # parallel test workers build once, the others wait
            if not all((cached / a).is_file() for a in part.artifacts):
                print(f"{part.title}: this first run trains the reference's {', '.join(part.artifacts)} (once: "
                      f"later runs reuse them from {cache_root()}); progress and the time left follow",
                      file=sys.stderr)
                tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_root()))
                build(tmp, data_root)
                shutil.rmtree(cached, ignore_errors=True)
                os.replace(tmp, cached)
        for a in part.artifacts:
            shutil.copy(cached / a, folder / a)
    os.chmod(folder, 0o755)
    return folder


def _lock_exclusively(f: Any) -> None:
    """Hold an exclusive lock on the open file ``f`` until it is closed (flock on POSIX, the C
    runtime's byte-range lock on Windows)."""
    try:
        import fcntl
    except ImportError:
        import msvcrt

        while True:
            try:
                msvcrt.locking(f.fileno(), msvcrt.LK_LOCK, 1)  # type: ignore[attr-defined]
                return
            except OSError:  # LK_LOCK gives up after 10 s: keep waiting
                continue
    fcntl.flock(f, fcntl.LOCK_EX)
