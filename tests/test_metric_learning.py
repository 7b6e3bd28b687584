"""Part 2 end to end: the reference earns every point, the untouched stubs earn none, and the
training check keeps both its partial score and its leaderboard value."""
from __future__ import annotations

import textwrap

import pytest
import torch

from conftest import ASSIGNMENT, SOLUTIONS, assert_full_marks, assert_untouched_stubs, mutate, reference_source

PART = ["metric_learning"]


def test_reference_gets_full_marks(grade):
    g = grade({"metric_learning.py": SOLUTIONS / "metric_learning.py"}, parts=PART)
    assert_full_marks(g)
    board = g.doc["leaderboard"]
    assert [b["name"] for b in board] == ["probe accuracy"]
    from grader.checks.metric_learning import KNN_FLOOR

    assert 100 * KNN_FLOOR["sample"] <= board[0]["value"] <= 100
    assert "untrained" in g.output("triplet_training") and "trained" in g.output("triplet_training")


def test_untouched_stubs_get_zero(grade):
    g = grade({"metric_learning.py": ASSIGNMENT / "metric_learning.py"}, parts=PART)
    assert_untouched_stubs(g)
    assert "leaderboard" not in g.doc or not g.doc["leaderboard"]


def test_training_below_floor_keeps_partial_score_and_leaderboard(grade, monkeypatch):
    """Stacked partial_credit + leaderboard: a failed floor keeps the improvement points and the value."""
    from grader.checks import metric_learning as checks

    monkeypatch.setitem(checks.KNN_FLOOR, "sample", 0.99)
    monkeypatch.setitem(checks.TRAINING, "steps", 150)
    g = grade({"metric_learning.py": SOLUTIONS / "metric_learning.py"}, parts=PART, checks=["triplet_training"])
    t = g.by_check()["triplet_training"]
    assert t["extra_data"]["outcome"] == "failed"
    assert t["score"] == 4.0 and t["max_score"] == 8.0
    assert "below the floor of 0.99" in t["output"]
    assert g.doc["leaderboard"][0]["name"] == "probe accuracy" and 0 < g.doc["leaderboard"][0]["value"] < 99


def test_training_on_a_gpu_the_sandbox_cannot_start_runs_on_the_cpu_and_says_so(grade, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from grader import runner
    from grader.checks import metric_learning as checks

    monkeypatch.setattr(runner.Context, "accelerator", property(lambda self: torch.device("cuda")))
    monkeypatch.setitem(checks.TRAINING, "steps", 150)
    monkeypatch.setitem(checks.KNN_FLOOR, "sample", 0.0)
    g = grade({"metric_learning.py": SOLUTIONS / "metric_learning.py"}, parts=PART, checks=["triplet_training"])
    out = g.output("triplet_training")
    assert g.outcome("triplet_training") == "passed", out
    assert "The GPU could not be used in the sandbox" in out and "the encoder trained on the CPU" in out
    assert "Adam lr" in out and "on cpu)" in out


def test_statistics_helpers():
    from grader.checks.metric_learning import knn_accuracy
    from grader.kits import binomial_tail_bound

    # at the mean the bound is trivial; far in either tail it is tiny
    assert binomial_tail_bound(50, 100, 0.5) == 1.0
    assert binomial_tail_bound(90, 100, 0.5) < 1e-10
    assert binomial_tail_bound(5, 100, 0.5) < 1e-10
    # the bound holds: it is never below the exact tail probability
    n, p = 60, 0.1
    pmf = [torch.distributions.Binomial(n, torch.tensor(p)).log_prob(torch.tensor(float(k))).exp().item()
           for k in range(n + 1)]
    for k in range(n + 1):
        exact = sum(pmf[k:]) if k >= n * p else sum(pmf[:k + 1])
        assert binomial_tail_bound(k, n, p) >= exact * (1 - 1e-5), k
    Zt = torch.tensor([[0.0], [1.0], [10.0], [11.0]])
    yt = torch.tensor([0, 0, 1, 1])
    assert knn_accuracy(Zt, yt, torch.tensor([[0.5], [10.5]]), torch.tensor([0, 1]), k=2) == 1.0


@pytest.mark.parametrize("seed", range(3))
def test_reference_sampler_contract_and_uniform_under_other_seeds(seed):
    """The reference passes the parent-side validation for several generators (no flaky seed)."""
    import importlib.util

    from grader.public_checks.metric_learning import validate_triplets

    spec = importlib.util.spec_from_file_location("_ml_ref_test", SOLUTIONS / "metric_learning.py")
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    gen = torch.Generator().manual_seed(seed)
    for labels in (torch.randint(0, 5, (40,), generator=gen), torch.tensor([1, 1, 1]), torch.tensor([3, 4, 5]),
                   torch.tensor([], dtype=torch.int64)):
        a, p, n = ref.sample_triplets(labels, gen)
        if labels.numel():
            validate_triplets((a, p, n), labels, "reference")
        else:
            assert a.numel() == p.numel() == n.numel() == 0


# Rewrites the grader's probes in the student's own process: each one still runs, then reports every
# input as kept (the facts the probes once sent back), and the public sampler probe sends a forgery
# the parent can see, which proves the rewritten probes are the ones the grader runs.
FORGE_PROBES = textwrap.dedent("""
    import grader.probes

    grader.probes.load_all()
    _ORIGINAL = dict(grader.probes._PROBES)


    def _forged(name, key):
        def run(module, *args, **kwargs):
            out = _ORIGINAL[name](module, *args, **kwargs)
            if isinstance(out, dict):
                out[key] = True
            return out
        return run


    for _name, _key in (("metric_learning.batches", "inputs_kept"), ("metric_learning.triplets", "labels_kept"),
                        ("metric_learning.encoder_outputs", "inputs_kept"),
                        ("metric_learning.linear_probe", "inputs_kept")):
        grader.probes._PROBES[_name] = _forged(_name, _key)
    grader.probes._PROBES["metric_learning.one_triplet_sample"] = lambda module, labels, seed: "FORGED"
""")


def test_in_place_changes_are_seen_by_the_parent_when_the_probes_are_rewritten(grade):
    """Every function writes into its inputs and the submission rewrites the grader's probes in its
    process so that they report the inputs as kept: each in-place check still fails with its message,
    because the parent reads the inputs' shared memory itself."""
    src = reference_source("metric_learning")
    for old, new in (
            ("    X_batch = X[idx]\n", "    X.sub_(X.mean())\n    X_batch = X[idx]\n"),
            ("    sorted_labels, order = torch.sort(labels, stable=True)\n",
             "    labels -= labels.min()\n    sorted_labels, order = torch.sort(labels, stable=True)\n"),
            ("        z = self.head(self.features(x).flatten(1))\n",
             "        z = self.head(self.features(nn.functional.relu(x, inplace=True)).flatten(1))\n"),
            ("    Z = Z.detach()\n", "    Z = Z.detach()\n    Z -= Z.mean(dim=0)\n")):
        src = mutate(src, old, new)
    checks = ["public_sampler", "batch_contract", "sampler_contract", "encoder_shape", "linear_probe"]
    g = grade({"metric_learning.py": src + FORGE_PROBES}, parts=PART, checks=checks)
    assert g.outcome("public_sampler") == "failed" and "FORGED" in g.output("public_sampler")
    messages = {"batch_contract": "modified X in place; index them instead",
                "sampler_contract": "modified labels in place",
                "encoder_shape": "Encoder's forward modified its input X in place",
                "linear_probe": "modified the embeddings Z in place"}
    for name, phrase in messages.items():
        assert g.outcome(name) == "failed" and phrase in g.output(name), (name, g.output(name))
    assert g.score == 0
