"""Part 1 end to end: the reference earns every point, the untouched stubs earn none, and the speed
checks apply their stricter floor when the grader has a GPU."""
from __future__ import annotations

import pytest
import torch

import grader.checks.linear_classifier as lc_checks
from conftest import ASSIGNMENT, SOLUTIONS, assert_full_marks, assert_untouched_stubs, mutate, reference_source
from grader import runner


def test_reference_gets_full_marks(grade, reference_models):
    g = grade({"linear_classifier.py": SOLUTIONS / "linear_classifier.py", **reference_models},
              parts=["linear_classifier"])
    assert_full_marks(g)


def test_untouched_stubs_get_zero(grade):
    g = grade({"linear_classifier.py": ASSIGNMENT / "linear_classifier.py"}, parts=["linear_classifier"])
    assert_untouched_stubs(g, not_about_code=("svm_saved_model_accuracy", "softmax_saved_model_accuracy",
                                              "public_saved_models"))
    assert "not found in your submission" in g.output("svm_saved_model_accuracy")


def test_saved_models_public_check_names_what_is_wrong_with_each_file(grade, tmp_path, reference_models):
    """1.0.7 (no points) judges each saved model on its own: a transposed W and a missing file are
    each named; the reference's files pass."""
    bad = tmp_path / "svm_best_model.pt"
    torch.save({"W": torch.zeros(10, 3073)}, bad)
    g = grade({"linear_classifier.py": SOLUTIONS / "linear_classifier.py", "svm_best_model.pt": bad},
              parts=["linear_classifier"], checks=["public_saved_models"])
    text = g.output("public_saved_models")
    assert g.outcome("public_saved_models") == "failed"
    assert "svm_best_model.pt: W should be a tensor of shape (3073, 10)" in text and "shape (10, 3073)" in text
    assert "softmax_best_model.pt was not found in your submission" in text
    g = grade({"linear_classifier.py": SOLUTIONS / "linear_classifier.py", **reference_models},
              parts=["linear_classifier"], checks=["public_saved_models"])
    assert g.outcome("public_saved_models") == "passed"


# --- the stricter speed floor of a grader with a GPU ------------------------------------------------
# This machine has no GPU. The tests below stand the CPU in for the GPU (the staged inputs and the
# elapsed-time measurement are the same code; synchronising a CPU is a no-op), and ask for a real
# CUDA device where there is none to see the fallback.

SPEED = ["svm_speedup", "softmax_speedup"]


def _grade_with_accelerator(grade, monkeypatch, device: str, source: str | None = None):
    monkeypatch.setattr(runner.Context, "accelerator", property(lambda self: torch.device(device)))
    return grade({"linear_classifier.py": source or reference_source()}, parts=["linear_classifier"], checks=SPEED)


def test_reference_meets_the_gpu_floor_measured_on_staged_inputs(grade, monkeypatch):
    monkeypatch.setattr(lc_checks, "GPU_SPEEDUP_FLOOR", dict(lc_checks.SPEEDUP_FLOOR))
    g = _grade_with_accelerator(grade, monkeypatch, "cpu")
    assert_full_marks(g)
    for check_id in SPEED:
        assert "Measured on the GPU (cpu; elapsed time" in g.output(check_id)


def test_gpu_floor_is_required_in_addition_to_the_cpu_floor(grade, monkeypatch):
    monkeypatch.setattr(lc_checks, "GPU_SPEEDUP_FLOOR", {"svm": 1e6, "softmax": 1e6})
    g = _grade_with_accelerator(grade, monkeypatch, "cpu")
    assert g.not_passed() == set(SPEED)
    for check_id in SPEED:
        out = g.output(check_id)
        assert "Measured (CPU time" in out  # the CPU floor was met first
        assert "On the GPU" in out and "1e+06x required there" in out and "kernel launch" in out


def test_gpu_that_the_sandbox_cannot_start_leaves_the_cpu_floor(grade, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the sandbox's CUDA start is tested for real elsewhere")
    g = _grade_with_accelerator(grade, monkeypatch, "cuda")
    assert_full_marks(g)
    for check_id in SPEED:
        out = g.output(check_id)
        assert "The GPU could not be used in the sandbox" in out and "NVIDIA driver" in out
        assert "only the CPU floor applied" in out
        assert "Measured (CPU time" in out and "Measured on the GPU" not in out


def test_loss_that_fails_on_the_gpu_fails_the_check_with_the_device_advice(grade, monkeypatch):
    # stands in for a loss that creates a tensor on the CPU: it raises only in a session that may use
    # CUDA (the only one whose environment names a CUDA cache)
    source = mutate(reference_source(), "def svm_loss_vectorized(W, X, y, reg):\n",
                    "def svm_loss_vectorized(W, X, y, reg):\n    import os\n"
                    "    if 'CUDA_CACHE_PATH' in os.environ:\n"
                    "        raise RuntimeError('Expected all tensors to be on the same device')\n")
    monkeypatch.setattr(lc_checks, "GPU_SPEEDUP_FLOOR", dict(lc_checks.SPEEDUP_FLOOR))  # the CPU stands in
    g = _grade_with_accelerator(grade, monkeypatch, "cpu", source)
    assert g.not_passed() == {"svm_speedup"}
    out = g.output("svm_speedup")
    assert "fail on inputs that are on the GPU" in out and "device=X.device" in out
    assert "Expected all tensors to be on the same device" in out


def test_asking_for_a_gpu_that_is_not_there_is_a_clear_set_up_error(tmp_path):
    from grader.commands import grade_to_file

    assert runner.grading_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="unknown device"):
        runner.grading_device("tpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        runner.grading_device("cuda")
    results = tmp_path / "results.json"
    assert grade_to_file(SOLUTIONS, results, parts=["linear_classifier"], device="cuda") is None
    import json

    doc = json.loads(results.read_text())
    assert doc["score"] == 0 and "no CUDA GPU" in json.dumps(doc)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine to verify the floors)")
def test_reference_meets_the_gpu_floor_on_a_real_gpu(grade):
    g = grade({"linear_classifier.py": reference_source()}, parts=["linear_classifier"], checks=SPEED)
    assert_full_marks(g)
    for check_id in SPEED:
        out = g.output(check_id)
        assert "Measured on the GPU (cuda" in out and "could not be used" not in out, out
