"""Memory of the data paths of grader.data: one fresh process per scenario.

Run from the repository root::

    .venv/bin/python bench/data_memory.py                      # every scenario, a table
    .venv/bin/python bench/data_memory.py --synthetic-full     # also a full-size CIFAR-10 of random pixels
    .venv/bin/python bench/data_memory.py --data-root DIR      # where to look for the data first

and inside a box shaped like Gradescope's default container (768 MB, half a CPU; needs root)::

    /work/shared/tools/gradescope-box -- .venv/bin/python bench/data_memory.py
    /work/shared/tools/gradescope-box -- .venv/bin/python bench/data_memory.py --scenario iter_test_full

(the box reports one peak for everything it ran; run a single ``--scenario`` to box one path).

Columns, in MB:

* ``peak_anon``: largest anonymous resident memory (``RssAnon``) of the process, sampled
  every 2 ms from outside by this script. This is what a memory cgroup charges and kills for;
  file-backed pages (shared libraries, the memory-mapped decoded cache) can be dropped by
  the kernel instead.
* ``peak_rss``: ``VmHWM`` from ``/proc/self/status``, all resident pages at their peak,
  file-backed ones included.

The decoded cache lives in a temporary folder, so ``*_cold`` scenarios decode with
torchvision and write it, and the scenarios after them read it back.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCENARIOS: dict[str, str] = {
    "import_torch": "import torch only",
    "import_torchvision": "import torch and torchvision.datasets",
    "load_sample_cold": "load CIFAR-10 sample, decode PNGs (ImageFolder), write cache",
    "load_sample": "load CIFAR-10 sample from the decoded cache",
    "preprocess_sample_f32": "preprocess_cifar10(sample, float32)",
    "preprocess_sample_f64": "preprocess_cifar10(sample, float64)",
    "iter_test_sample": "iter_cifar10_batches(sample, 'test', 1000) @ W, float32",
    "load_full_cold": "load full CIFAR-10 with torchvision.CIFAR10, write cache",
    "load_full": "load full CIFAR-10 from the decoded cache",
    "iter_test_full": "iter_cifar10_batches(full, 'test', 1000) @ W, float32",
    "iter_test_full_f64": "iter_cifar10_batches(full, 'test', 1000) @ W, float64",
    "preprocess_full_f32": "preprocess_cifar10(full, float32), everything at once",
}
FULL = [name for name in SCENARIOS if "full" in name]


def _status_kb(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        m = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) if m else 0


def _write_synthetic_full(root: Path) -> None:
    """A full-size CIFAR-10 (50,000 + 10,000 images) of random pixels in torchvision's layout."""
    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        data = rng.integers(0, 256, size=(10_000, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=10_000).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f, protocol=4)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": ["airplane", "automobile", "bird", "cat", "deer",
                                     "dog", "frog", "horse", "ship", "truck"]}, f)


def run_scenario(name: str, root: str | None, synthetic: bool) -> dict[str, object]:
    """Run one scenario in this process; returns its figures."""
    t0 = time.perf_counter()
    import torch

    torch.set_num_threads(1)
    if name == "import_torch":
        return {"seconds": time.perf_counter() - t0}
    if name == "import_torchvision":
        import torchvision.datasets  # noqa: F401
        return {"seconds": time.perf_counter() - t0}
    if synthetic and name in FULL:  # random pixels fail torchvision's md5 check by construction
        import torchvision.datasets.cifar as tv_cifar
        tv_cifar.check_integrity = lambda *a, **k: True  # type: ignore[assignment]

    from grader import data as D

    profile = "full" if "full" in name else "sample"
    t0 = time.perf_counter()
    raw = D.load_cifar10(root, profile=profile)  # type: ignore[arg-type]
    info: dict[str, object] = {"data": D.describe(raw)}
    if name.startswith("preprocess"):
        dtype = torch.float64 if name.endswith("f64") else torch.float32
        out = D.preprocess_cifar10(raw, dtype=dtype)
        info["floats_mb"] = sum(out[k].numel() * out[k].element_size() for k in ("X_train", "X_val", "X_test")) / 2**20
    elif name.startswith("iter_test"):
        dtype = torch.float64 if name.endswith("f64") else torch.float32
        W = torch.randn(3073, 10, dtype=dtype, generator=torch.Generator().manual_seed(0))
        correct = 0
        for X, y in D.iter_cifar10_batches(raw, "test", 1000, dtype=dtype):
            correct += int(((X @ W).argmax(1) == y).sum())
        info["accuracy"] = correct / len(raw.test_labels)
    info["seconds"] = time.perf_counter() - t0
    return info


def child_main(args: argparse.Namespace) -> int:
    info = run_scenario(args.scenario, args.data_root, args.synthetic_full)
    info["peak_rss_mb"] = _status_kb("self", "VmHWM") / 1024
    print("RESULT " + json.dumps(info), flush=True)
    return 0


def spawn(name: str, root: str | None, synthetic: bool, env: dict[str, str]) -> dict[str, object]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--scenario", name]
    if root:
        cmd += ["--data-root", root]
    if synthetic:
        cmd.append("--synthetic-full")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    peak_anon = 0
    while proc.poll() is None:
        try:
            peak_anon = max(peak_anon, _status_kb(proc.pid, "RssAnon"))
        except OSError:
            pass
        time.sleep(0.002)
    out, err = proc.communicate()
    line = next((ln for ln in out.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        return {"error": (err.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    info = json.loads(line[len("RESULT "):])
    info["peak_anon_mb"] = peak_anon / 1024
    return info


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scenario", choices=sorted(SCENARIOS), help="run one scenario in this process")
    p.add_argument("--data-root", help="data root searched first (as the grader's --data-root)")
    p.add_argument("--synthetic-full", action="store_true",
                   help="when the full CIFAR-10 is absent, measure a full-size one made of random pixels")
    args = p.parse_args()
    sys.path.insert(0, str(REPO))
    if args.scenario:
        return child_main(args)

    from grader import data as D
    from grader.errors import DataNotFoundError

    workdir = Path(tempfile.mkdtemp(prefix="data-memory-"))
    env = dict(os.environ, GRADER_CACHE=str(workdir / "cache"), OMP_NUM_THREADS="1")
    root = args.data_root
    synthetic = False
    try:
        try:
            full_note = D.describe(D.locate("cifar10", root, profile="full"))
        except DataNotFoundError:
            if args.synthetic_full:
                _write_synthetic_full(workdir / "synthetic")
                root, synthetic = str(workdir / "synthetic"), True
                full_note = "full data not present: measuring a synthetic full-size CIFAR-10 (random pixels)"
            else:
                full_note = "full data not present (use --synthetic-full for a full-size stand-in)"
        print(f"python {sys.version.split()[0]}, torch {__import__('torch').__version__}, "
              f"one fresh process per row; {full_note}")
        print(f"{'scenario':<24}{'peak_anon':>10}{'peak_rss':>10}{'seconds':>9}  what")
        for name, what in SCENARIOS.items():
            if name in FULL and not synthetic and full_note.startswith("full data not present"):
                print(f"{name:<24}{'-':>10}{'-':>10}{'-':>9}  full data not present")
                continue
            info = spawn(name, root, synthetic, env)
            if "error" in info:
                print(f"{name:<24}{'-':>10}{'-':>10}{'-':>9}  FAILED: {info['error']}")
                continue
            extra = ""
            if "floats_mb" in info:
                extra = f" [X_* = {info['floats_mb']:.0f} MB]"
            print(f"{name:<24}{info['peak_anon_mb']:>10.0f}{info['peak_rss_mb']:>10.0f}"
                  f"{info['seconds']:>9.2f}  {what}{extra}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
