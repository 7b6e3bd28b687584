"""Tests of grader.data: where data is found, how it is loaded, cached and preprocessed.

The real offline samples (``shared/data`` next to the checkout, see its README.md) are used
when present; tests needing them are skipped otherwise. Every test runs with HOME,
XDG_CACHE_HOME, GRADER_DATA and GRADER_CACHE pointed at temporary folders, so data or
caches of the machine running the tests never leak in.
"""
from __future__ import annotations

import hashlib
import pickle
import urllib.error
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import grader.data as D
from grader.errors import DataNotFoundError, GraderError

SHARED = D.SHARED_DATA_DIR  # captured before any test moves it
HAS_CIFAR_SAMPLE = (SHARED / "cifar10-sample" / "train").is_dir()
HAS_MNIST_SAMPLE = (SHARED / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
needs_cifar = pytest.mark.skipif(not HAS_CIFAR_SAMPLE, reason=f"CIFAR-10 sample not found at {SHARED}/cifar10-sample")
needs_mnist = pytest.mark.skipif(not HAS_MNIST_SAMPLE, reason=f"MNIST sample not found at {SHARED}/MNIST/raw")

README_CIFAR_TRAIN_MEAN = (0.4916, 0.4818, 0.4447)  # shared/data/README.md
README_MNIST_TEST_SHA256_PREFIX = "6d87418db22cc802"


def _isolate(mp: pytest.MonkeyPatch, base: Path) -> None:
    """Point every search location and the cache at empty folders under ``base``."""
    for name in ("home", "xdg", "cache"):
        (base / name).mkdir(parents=True, exist_ok=True)
    mp.setenv("HOME", str(base / "home"))
    mp.setenv("XDG_CACHE_HOME", str(base / "xdg"))
    mp.setenv("GRADER_CACHE", str(base / "cache"))
    mp.delenv("GRADER_DATA", raising=False)
    mp.setattr(D, "SHARED_DATA_DIR", base / "no-shared-data")
    mp.setattr(D, "GRADESCOPE_DATA_DIR", base / "no-autograder-data")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    _isolate(monkeypatch, tmp_path / "env")
    return tmp_path / "env"


@pytest.fixture(scope="module")
def cifar_raw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[D.RawSplits]:
    if not HAS_CIFAR_SAMPLE:
        pytest.skip(f"CIFAR-10 sample not found at {SHARED}/cifar10-sample")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("cifar-env"))
        yield D.load_cifar10(SHARED, profile="sample")


@pytest.fixture(scope="module")
def mnist_raw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[D.RawSplits]:
    if not HAS_MNIST_SAMPLE:
        pytest.skip(f"MNIST sample not found at {SHARED}/MNIST/raw")
    with pytest.MonkeyPatch.context() as mp:
        _isolate(mp, tmp_path_factory.mktemp("mnist-env"))
        yield D.load_mnist(SHARED, profile="sample")


def _fake_cifar_full(root: Path, n_per_batch: int = 3) -> dict[str, np.ndarray]:
    """Write a tiny CIFAR-10 in torchvision's pickle layout; returns the CHW pixels written."""
    rng = np.random.default_rng(0)
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train, test = [], []
    for name in D._CIFAR_FULL_FILES[:-1]:
        data = rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=n_per_batch)]
        (train if name.startswith("data_batch") else test).append((data, labels))
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(D.CIFAR10_CLASSES)}, f)
    return {
        "train": np.concatenate([d for d, _ in train]).reshape(-1, 3, 32, 32),
        "test": np.concatenate([d for d, _ in test]).reshape(-1, 3, 32, 32),
        "train_labels": np.array(sum((lab for _, lab in train), [])),
    }


# --------------------------------------------------------------------------- where


def test_search_order(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    monkeypatch.setenv("GRADER_DATA", str(isolated / "env-data"))
    assert D.data_root_candidates(isolated / "explicit") == [
        isolated / "explicit",
        isolated / "env-data",
        isolated / "xdg" / "grader" / "data",
        isolated / "no-shared-data",
        isolated / "no-autograder-data",
    ]
    # Without an explicit root or GRADER_DATA, the cache comes first; duplicates are dropped.
    monkeypatch.setenv("GRADER_DATA", "")
    assert D.data_root_candidates(isolated / "xdg" / "grader" / "data")[0:2] == [
        isolated / "xdg" / "grader" / "data", isolated / "no-shared-data"]


def test_default_cache_follows_home_without_xdg(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.delenv("GRADER_CACHE")
    assert D.default_data_root() == isolated / "home" / ".cache" / "grader" / "data"
    assert D.decoded_cache_dir() == isolated / "home" / ".cache" / "grader" / "decoded"


def test_shared_data_sits_next_to_the_checkout() -> None:
    assert SHARED == Path(D.__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize("dataset", ["cifar10", "mnist"])
def test_not_found_names_every_searched_location(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                                 dataset: str) -> None:
    monkeypatch.setenv("GRADER_DATA", str(isolated / "env-data"))
    (isolated / "env-data").mkdir()
    with pytest.raises(DataNotFoundError) as info:
        D.locate(dataset, isolated / "explicit")
    message = str(info.value)
    for path in D.data_root_candidates(isolated / "explicit"):
        assert str(path) in message
    assert "python -m grader download-data" in message
    assert "GRADER_DATA" in message
    assert isinstance(info.value, GraderError)
    with pytest.raises(DataNotFoundError):
        D.load_cifar10() if dataset == "cifar10" else D.load_mnist()


@needs_cifar
@needs_mnist
def test_sample_profile_detected_from_explicit_root() -> None:
    loc = D.locate("cifar10", SHARED)
    assert (loc.dataset, loc.root, loc.profile, loc.n_train, loc.n_test) == ("cifar10", SHARED, "sample", 4000, 1000)
    assert D.describe(loc) == f"Data: CIFAR-10, offline sample (4,000 train / 1,000 test images) at {SHARED}"
    loc = D.locate("MNIST", SHARED)
    assert (loc.profile, loc.n_train, loc.n_test) == ("sample", 10_000, 10_000)
    with pytest.raises(DataNotFoundError, match="full profile"):
        D.locate("cifar10", SHARED, profile="full")


@needs_cifar
def test_sample_found_through_env_var_and_shared_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADER_DATA", str(SHARED))
    assert D.locate("cifar10").root == SHARED
    monkeypatch.delenv("GRADER_DATA")
    monkeypatch.setattr(D, "SHARED_DATA_DIR", SHARED)
    assert D.locate("cifar10").root == SHARED


@needs_mnist
def test_a_data_folder_asked_for_and_not_used_is_said(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--data-root or GRADER_DATA naming a folder without the data: the one used instead is named
    with the reason, never substituted in silence."""
    monkeypatch.delenv("GRADER_DATA", raising=False)
    monkeypatch.setattr(D, "SHARED_DATA_DIR", SHARED)
    missing, empty = tmp_path / "missing", tmp_path / "empty"
    empty.mkdir()
    loc = D.locate("mnist", missing)
    assert loc.root == SHARED
    assert D.passed_over(loc, missing) == [f"--data-root names {missing}, which does not exist, so MNIST was read "
                                           f"from {SHARED} instead"]
    monkeypatch.setenv("GRADER_DATA", str(empty))
    (note,) = D.passed_over(D.locate("mnist"), None)
    assert note.startswith(f"GRADER_DATA names {empty}, which holds no MNIST/raw/") and str(SHARED) in note
    assert D.passed_over(loc, SHARED) == []  # the folder asked for was the one used
    monkeypatch.delenv("GRADER_DATA")
    assert D.passed_over(loc, None) == []  # nothing asked for: nothing to say


@needs_cifar
def test_full_data_wins_over_an_earlier_sample(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    full = isolated / "full"
    (full / "cifar-10-batches-py").mkdir(parents=True)
    for name in D._CIFAR_FULL_FILES:
        (full / "cifar-10-batches-py" / name).touch()
    monkeypatch.setenv("GRADER_DATA", str(full))
    loc = D.locate("cifar10", SHARED)  # the explicit root holds only the sample
    assert (loc.root, loc.profile) == (full, "full")
    assert D.describe(loc).startswith("Data: CIFAR-10, full dataset (50,000 train / 10,000 test images)")
    assert D.locate("cifar10", SHARED, profile="sample").root == SHARED


def test_full_layout_loads_through_torchvision(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> None:
    written = _fake_cifar_full(isolated / "full")
    # Made-up files fail torchvision's md5 check: a clear error, not a crash.
    with pytest.raises(DataNotFoundError, match="could not be read"):
        D.load_cifar10(isolated / "full")
    import torchvision.datasets.cifar as tv_cifar

    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *a, **k: True)
    raw = D.load_cifar10(isolated / "full")
    assert raw.profile == "full" and raw.dataset == "cifar10"
    assert raw.train_images.shape == (15, 3, 32, 32) and raw.test_images.shape == (3, 3, 32, 32)
    assert raw.train_images.dtype == torch.uint8 and raw.train_labels.dtype == torch.int64
    assert np.array_equal(raw.train_images.numpy(), written["train"])  # CHW, as in the files
    assert np.array_equal(raw.test_images.numpy(), written["test"])
    assert raw.train_labels.tolist() == written["train_labels"].tolist()


# --------------------------------------------------------------------------- loading


def test_cifar_sample_shapes_classes_and_order(cifar_raw: D.RawSplits) -> None:
    raw = cifar_raw
    assert raw.profile == "sample" and raw.root == SHARED and raw.dataset == "cifar10"
    assert raw.train_images.shape == (4000, 3, 32, 32) and raw.test_images.shape == (1000, 3, 32, 32)
    assert raw.train_images.dtype == raw.test_images.dtype == torch.uint8
    assert raw.train_labels.shape == (4000,) and raw.test_labels.shape == (1000,)
    assert raw.train_labels.dtype == raw.test_labels.dtype == torch.int64
    assert raw.classes == ("airplane", "automobile", "bird", "cat", "deer",
                           "dog", "frog", "horse", "ship", "truck")
    assert raw.classes.index("airplane") == 0 and raw.classes.index("truck") == 9
    # Rows follow the official order: the first training images are frog, truck, truck, deer, ...
    assert raw.train_labels[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert (SHARED / "cifar10-sample" / "train" / "frog" / "00000.png").is_file()
    assert raw.train_labels.bincount(minlength=10).sum() == 4000 and raw.train_labels.max() == 9


def test_cifar_sample_channel_means_match_readme(cifar_raw: D.RawSplits) -> None:
    mean = D.cifar10_channel_mean(cifar_raw, validation_ratio=0.0)
    assert mean.shape == (3,) and mean.dtype == torch.float64
    assert torch.allclose(mean, torch.tensor(README_CIFAR_TRAIN_MEAN, dtype=torch.float64), atol=1e-4, rtol=0)
    # With the default split: the mean of the training part only.
    train_idx, _ = D.train_val_indices(4000, 0.2, 0)
    naive = (cifar_raw.train_images[train_idx].double() / 255).mean(dim=(0, 2, 3))
    assert torch.allclose(D.cifar10_channel_mean(cifar_raw), naive, atol=1e-12, rtol=0)


@needs_mnist
def test_mnist_sample(mnist_raw: D.RawSplits) -> None:
    raw = mnist_raw
    assert raw.profile == "sample" and raw.classes[0] == "0"
    assert raw.train_images.shape == (10_000, 1, 28, 28) and raw.test_images.shape == (10_000, 1, 28, 28)
    assert raw.train_images.dtype == torch.uint8 and raw.test_labels.dtype == torch.int64
    digest = hashlib.sha256(raw.test_images.squeeze(1).contiguous().numpy().tobytes()).hexdigest()
    assert digest.startswith(README_MNIST_TEST_SHA256_PREFIX)
    assert raw.train_labels.bincount().tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


@needs_cifar
def test_decoded_cache_is_written_then_reused(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                              cifar_raw: D.RawSplits) -> None:
    first = D.load_cifar10(SHARED, profile="sample")
    files = list((isolated / "cache").glob("cifar10-sample-*.pt"))
    assert len(files) == 1

    def no_decoding(root: Path) -> dict[str, torch.Tensor]:
        raise AssertionError("decoded again instead of reading the cache")

    monkeypatch.setattr(D, "_decode_cifar10_sample", no_decoding)
    second = D.load_cifar10(SHARED, profile="sample")
    assert torch.equal(first.train_images, second.train_images)
    assert torch.equal(first.test_labels, second.test_labels)
    assert torch.equal(second.train_images, cifar_raw.train_images)
    # The cache holds only tensors and strings: loadable with weights_only=True.
    assert torch.load(files[0], weights_only=True)["profile"] == "sample"


@needs_mnist
def test_unusable_cache_is_tolerated(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                     mnist_raw: D.RawSplits) -> None:
    blocker = isolated / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("GRADER_CACHE", str(blocker / "cache"))  # cannot be created
    assert torch.equal(D.load_mnist(SHARED).test_images, mnist_raw.test_images)

    monkeypatch.setenv("GRADER_CACHE", str(isolated / "cache2"))
    D.load_mnist(SHARED)
    (cached,) = (isolated / "cache2").glob("mnist-sample-*.pt")
    cached.write_bytes(b"truncated")  # corrupt: decoded again and rewritten
    assert torch.equal(D.load_mnist(SHARED).train_labels, mnist_raw.train_labels)
    assert cached.stat().st_size > 1000


# --------------------------------------------------------------------------- preprocessing


def test_train_val_split_is_seeded_and_disjoint() -> None:
    a_train, a_val = D.train_val_indices(4000, 0.2, seed=0)
    b_train, b_val = D.train_val_indices(4000, 0.2, seed=0)
    assert torch.equal(a_train, b_train) and torch.equal(a_val, b_val)
    assert len(a_train) == 3200 and len(a_val) == 800
    assert torch.equal(torch.cat([a_train, a_val]).sort().values, torch.arange(4000))
    assert not torch.equal(D.train_val_indices(4000, 0.2, seed=1)[1], a_val)
    assert len(D.train_val_indices(10, 0.0, 0)[1]) == 0
    with pytest.raises(ValueError):
        D.train_val_indices(10, 1.0, 0)


def test_preprocess_cifar10_shapes_and_values(cifar_raw: D.RawSplits) -> None:
    before = cifar_raw.train_images.clone()
    out = D.preprocess_cifar10(cifar_raw)
    assert out["profile"] == "sample"
    for split, n in (("train", 3200), ("val", 800), ("test", 1000)):
        assert out[f"X_{split}"].shape == (n, 3073) and out[f"X_{split}"].dtype == torch.float32
        assert out[f"y_{split}"].shape == (n,) and out[f"y_{split}"].dtype == torch.int64
        assert torch.all(out[f"X_{split}"][:, -1] == 1)
    train_idx, val_idx = D.train_val_indices(4000, 0.2, 0)
    assert torch.equal(out["y_val"], cifar_raw.train_labels[val_idx])
    # Reference arithmetic, written out: scale, subtract the training part's channel mean, flatten.
    mean = D.cifar10_channel_mean(cifar_raw).float().view(1, 3, 1, 1)
    expected = (cifar_raw.test_images.float() / 255 - mean).reshape(1000, 3072)
    assert torch.equal(out["X_test"][:, :3072], expected)
    # float64: the training part is centred.
    out64 = D.preprocess_cifar10(cifar_raw, dtype=torch.float64, bias_trick=False)
    assert out64["X_train"].shape == (3200, 3072) and out64["X_train"].dtype == torch.float64
    centred = out64["X_train"].reshape(3200, 3, 1024).mean(dim=(0, 2))
    assert centred.abs().max() < 1e-12
    images = D.preprocess_cifar10(cifar_raw, flatten=False, bias_trick=False)["X_val"]
    assert images.shape == (800, 3, 32, 32)
    with pytest.raises(ValueError, match="flatten"):
        D.preprocess_cifar10(cifar_raw, flatten=False)
    assert torch.equal(cifar_raw.train_images, before)  # inputs untouched


@pytest.mark.parametrize("split", ["test", "val", "train"])
def test_batches_equal_preprocess_bit_for_bit(cifar_raw: D.RawSplits, split: str) -> None:
    for kwargs in ({}, {"dtype": torch.float64, "bias_trick": False, "seed": 3, "validation_ratio": 0.25}):
        whole = D.preprocess_cifar10(cifar_raw, **kwargs)
        for batch_size in (333, 1000):
            batches = list(D.iter_cifar10_batches(cifar_raw, split, batch_size, **kwargs))
            assert all(len(y) <= batch_size for _, y in batches)
            assert torch.equal(torch.cat([x for x, _ in batches]), whole[f"X_{split}"])
            assert torch.equal(torch.cat([y for _, y in batches]), whole[f"y_{split}"])


def test_preprocess_loads_through_the_search(monkeypatch: pytest.MonkeyPatch, cifar_raw: D.RawSplits) -> None:
    monkeypatch.setattr(D, "SHARED_DATA_DIR", SHARED)
    out = D.preprocess_cifar10(seed=5)
    assert torch.equal(out["X_val"], D.preprocess_cifar10(cifar_raw, seed=5)["X_val"])


def test_preprocess_mnist(mnist_raw: D.RawSplits) -> None:
    out = D.preprocess_mnist(mnist_raw)
    assert out["X_train"].shape == (9000, 784) and out["X_val"].shape == (1000, 784)
    assert out["X_test"].shape == (10_000, 784) and out["X_test"].dtype == torch.float32
    assert out["X_train"].min() == 0 and out["X_train"].max() == 1
    norm = D.preprocess_mnist(mnist_raw, normalize=True, dtype=torch.float64, bias_trick=True)
    assert norm["X_train"].shape == (9000, 785) and torch.all(norm["X_train"][:, -1] == 1)
    assert abs(norm["X_train"][:, :784].mean().item()) < 1e-12
    assert abs(norm["X_train"][:, :784].std(unbiased=False).item() - 1) < 1e-9
    assert D.preprocess_mnist(mnist_raw, flatten=False)["X_val"].shape == (1000, 1, 28, 28)


# --------------------------------------------------------------------------- downloading


def test_download_failure_is_a_clear_message(monkeypatch: pytest.MonkeyPatch, isolated: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import torchvision.datasets

    def offline(*args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    rc = D.download_main(Namespace(data_root=isolated / "dl"))
    captured = capsys.readouterr()
    assert rc == 1
    assert str(isolated / "dl") in captured.out
    assert "failed" in captured.err and "network" in captured.err and "GRADER_DATA" in captured.err


def test_download_refuses_a_root_holding_the_mnist_sample(isolated: Path) -> None:
    raw = isolated / "dl" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in D._MNIST_FILES:
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big"))
    with pytest.raises(DataNotFoundError, match="sample"):
        D.download(isolated / "dl", datasets=("mnist",))
