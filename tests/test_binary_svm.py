"""Part 4 end to end: the reference earns every point, the untouched stubs earn none, each realistic
wrong submission loses exactly the points of the checks that should catch it, and the notebook runs."""
from __future__ import annotations


import pytest

from conftest import (ASSIGNMENT, SOLUTIONS, assert_full_marks, assert_loses_exactly, assert_untouched_stubs, mutate,
                      reference_source)

PART = "binary_svm"


def test_reference_gets_full_marks(grade):
    assert_full_marks(grade({"binary_svm.py": SOLUTIONS / "binary_svm.py"}, parts=[PART]))


def test_untouched_stubs_get_zero(grade):
    assert_untouched_stubs(grade({"binary_svm.py": ASSIGNMENT / "binary_svm.py"}, parts=[PART]))


# ----------------------------------------------------------------------------- wrong submissions
#
# Each mutant is the reference with ONE bug a real student makes (a text mutation of
# solutions/binary_svm.py). We grade a narrow selection of checks and assert the exact set that
# does not pass, that a failure message names the bug, and that the score drops by exactly their weights.

HINGE = ["public_hinge_by_hand", "bs_hinge_values", "bs_hinge_gradients", "bs_binary_training_steps"]
CE = ["public_cross_entropy_by_hand", "bs_cross_entropy_vs_torch", "bs_cross_entropy_extreme",
      "bs_static_no_torch_losses", "bs_hinge_values"]

NORMALIZE_BODY = ("    mean = X_train.mean(dim=0)\n    std = X_train.std(dim=0) + eps\n"
                  "    out = tuple((X - mean) / std for X in (X_train, X_val, X_test))\n")
CE_BODY = ("    shifted = logits - logits.max(dim=1, keepdim=True).values\n"
           "    log_norm = torch.log(torch.exp(shifted).sum(dim=1))\n"
           "    correct = shifted.gather(1, labels[:, None]).squeeze(1)\n    loss = (log_norm - correct).mean()\n")
SVM_RESET = ("                b -= learning_rate * b.grad\n            W.grad = None\n            b.grad = None\n"
             "            loss_history.append(loss.item())\n    # END SOLUTION\n    return W.detach(), b.detach(), "
             "loss_history\n\n\ndef svm_predict")

LABELS_BODY = "    labels = torch.where(y == positive_class, 1.0, -1.0).to(dtype)\n"
LABELS_IN_PLACE = ("    positive = y == positive_class\n    y[positive] = 1\n    y[~positive] = -1\n"
                   "    labels = y.to(dtype)\n")
NORMALIZE_OUT = "    out = tuple((X - mean) / std for X in (X_train, X_val, X_test))\n"
NORMALIZE_IN_PLACE = ("    for X in (X_train, X_val, X_test):\n        X -= mean\n        X /= std\n"
                      "    out = (X_train, X_val, X_test)\n")
HINGE_MARGINS = "    margins = torch.clamp(1.0 - labels * scores, min=0)\n"
HINGE_IN_PLACE = "    scores *= labels\n    margins = torch.clamp(1.0 - scores, min=0)\n"

MUTANTS = {
    # name: (list of (old, new) mutations, checks graded, expected not passed, phrase in a failure message)
    "labels-written-into-y": (
        [(LABELS_BODY, LABELS_IN_PLACE)],
        ["bs_labels_pm1", "bs_normalize_train_stats"], {"bs_labels_pm1"}, "modified y in place ("),
    "normalize-subtracts-and-divides-in-place": (
        [(NORMALIZE_OUT, NORMALIZE_IN_PLACE)],
        ["bs_normalize_train_stats", "bs_labels_pm1"], {"bs_normalize_train_stats"},
        "modified X_train, X_val and X_test in place"),
    "hinge-multiplies-scores-in-place": (
        [(HINGE_MARGINS, HINGE_IN_PLACE)],
        ["public_hinge_by_hand", "bs_hinge_values", "bs_labels_pm1"], {"bs_hinge_values"},
        "modified scores in place"),
    "labels-zero-one": (
        [("torch.where(y == positive_class, 1.0, -1.0)", "torch.where(y == positive_class, 1.0, 0.0)")],
        ["bs_labels_pm1", "bs_one_vs_all_training", "bs_binary_accuracy", "bs_hinge_values"],
        {"bs_labels_pm1", "bs_one_vs_all_training", "bs_binary_accuracy"}, "{0, 1}"),
    "normalize-each-split-with-its-own-statistics": (
        [(NORMALIZE_BODY, "    out = tuple((X - X.mean(dim=0)) / (X.std(dim=0) + eps) for X in (X_train, X_val, X_test))\n")],
        ["bs_normalize_train_stats", "bs_labels_pm1"], {"bs_normalize_train_stats"}, "OWN mean and std"),
    "normalize-with-statistics-of-all-splits": (
        [("    mean = X_train.mean(dim=0)\n    std = X_train.std(dim=0) + eps\n",
          "    everything = torch.cat([X_train, X_val, X_test])\n    mean = everything.mean(dim=0)\n"
          "    std = everything.std(dim=0) + eps\n")],
        ["bs_normalize_train_stats", "bs_labels_pm1"], {"bs_normalize_train_stats"}, "together"),
    "hinge-summed-over-examples": (
        [("    loss = margins.mean() + lam * torch.sum(W * W)\n", "    loss = margins.sum() + lam * torch.sum(W * W)\n")],
        HINGE, set(HINGE), "summed"),
    "hinge-without-penalty": (
        [("    loss = margins.mean() + lam * torch.sum(W * W)\n", "    loss = margins.mean()\n")],
        HINGE, set(HINGE), "penalty lam * sum(W * W) is missing"),
    "hinge-without-margin": (
        [("torch.clamp(1.0 - labels * scores, min=0)", "torch.clamp(-labels * scores, min=0)")],
        HINGE, set(HINGE), "margin is missing"),
    "hinge-detaches-scores": (
        [("torch.clamp(1.0 - labels * scores, min=0)", "torch.clamp(1.0 - labels * scores.detach(), min=0)")],
        HINGE, {"bs_hinge_gradients", "bs_binary_training_steps"}, "autograd gives no gradient"),
    "svm-gradients-never-reset": (
        [(SVM_RESET, SVM_RESET.replace("            W.grad = None\n            b.grad = None\n", ""))],
        ["bs_binary_training_steps", "bs_one_vs_all_training", "bs_softmax_training_steps"],
        {"bs_binary_training_steps", "bs_one_vs_all_training"}, "accumulate"),
    "svm-updates-only-the-bias": (
        [("                W -= learning_rate * W.grad\n                b -= learning_rate * b.grad\n"
          "            W.grad = None\n            b.grad = None\n            loss_history.append(loss.item())\n"
          "    # END SOLUTION\n    return W.detach(), b.detach(), loss_history\n\n\ndef svm_predict",
          "                b -= learning_rate * b.grad\n"
          "            W.grad = None\n            b.grad = None\n            loss_history.append(loss.item())\n"
          "    # END SOLUTION\n    return W.detach(), b.detach(), loss_history\n\n\ndef svm_predict")],
        ["bs_binary_training_steps", "bs_one_vs_all_training", "bs_one_vs_all_balance"],
        {"bs_binary_training_steps", "bs_one_vs_all_training", "bs_one_vs_all_balance"}, "class imbalance"),
    "one-vs-all-with-zero-one-labels": (
        [("        labels = to_pm1_labels(y, c, dtype=X.dtype)\n", "        labels = (y == c).to(X.dtype)\n")],
        ["bs_one_vs_all_training", "bs_one_vs_all_balance", "bs_one_vs_all_accuracy", "bs_labels_pm1"],
        {"bs_one_vs_all_training", "bs_one_vs_all_accuracy"}, "labels in {0, 1}"),
    "cross-entropy-without-max-shift": (
        [(CE_BODY, "    loss = -torch.log(torch.exp(logits).gather(1, labels[:, None]).squeeze(1)"
                   " / torch.exp(logits).sum(dim=1)).mean()\n")],
        CE, {"bs_cross_entropy_extreme"}, "overflows"),
    "cross-entropy-log-of-probabilities": (
        [(CE_BODY, "    shifted = logits - logits.max(dim=1, keepdim=True).values\n"
                   "    probs = torch.exp(shifted) / torch.exp(shifted).sum(dim=1, keepdim=True)\n"
                   "    loss = -torch.log(probs.gather(1, labels[:, None]).squeeze(1)).mean()\n")],
        CE, {"bs_cross_entropy_extreme"}, "underflowed probability"),
    "cross-entropy-uses-torch-logsumexp": (
        [("    log_norm = torch.log(torch.exp(shifted).sum(dim=1))\n", "    log_norm = torch.logsumexp(shifted, dim=1)\n")],
        CE, {"bs_static_no_torch_losses"}, "uses torch.logsumexp"),
    "cross-entropy-logsumexp-through-eval": (
        [("    log_norm = torch.log(torch.exp(shifted).sum(dim=1))\n",
          "    log_norm = eval('torch.logsumexp')(shifted, dim=1)\n")],
        CE, set(CE), "uses eval (line"),  # eval can reach anything, the grader's probes included
    "cross-entropy-summed": (
        [("    loss = (log_norm - correct).mean()\n", "    loss = (log_norm - correct).sum()\n")],
        CE, {"public_cross_entropy_by_hand", "bs_cross_entropy_vs_torch", "bs_cross_entropy_extreme",
             "bs_static_no_torch_losses"}, "summed over the examples"),
    "softmax-training-without-penalty": (
        [("softmax_cross_entropy(X[idx] @ W + b, y[idx]) + lam * torch.sum(W * W)",
          "softmax_cross_entropy(X[idx] @ W + b, y[idx])")],
        ["bs_softmax_training_steps", "bs_softmax_accuracy", "bs_cross_entropy_vs_torch"],
        {"bs_softmax_training_steps", "bs_softmax_accuracy"}, "penalty lam * sum(W * W) is missing"),
    "per-class-accuracy-nan-for-empty-class": (
        [("torch.where(total > 0, correct / total.clamp(min=1), torch.zeros_like(total))", "correct / total")],
        ["bs_predict_per_class", "bs_labels_pm1"], {"bs_predict_per_class"}, "not NaN"),
    "predict-argmax-over-examples": (
        [("    y_pred = torch.argmax(X @ W + b, dim=1)\n    # END SOLUTION\n    return y_pred\n\n\ndef per_class",
          "    y_pred = torch.argmax(X @ W + b, dim=0)\n    # END SOLUTION\n    return y_pred\n\n\ndef per_class")],
        ["bs_predict_per_class", "bs_labels_pm1"], {"bs_predict_per_class"}, "shape"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_its_checks(grade, name):
    edits, checks, expected, phrase = MUTANTS[name]
    source = reference_source(PART)
    for old, new in edits:
        source = mutate(source, old, new)
    g = grade({"binary_svm.py": source}, parts=[PART], checks=checks)
    assert_loses_exactly(g, checks, expected, phrase, anywhere=True)


# ----------------------------------------------------------------------------- forged reports from the child

# Appended to a submission: rewrites the grader's probes inside the student's own process so that a probe
# reports every input as it was before the call (the snapshot the old ``call_and_inputs`` probe sent back
# as ``inputs_after``), and wraps every other Part 4 probe the same way.
FORGE_PROBES = """

import grader.probes


def _snapshot(value):
    return value.clone() if isinstance(value, torch.Tensor) else value


def _forged_call_and_inputs(module, func, *args, **kwargs):
    before = [_snapshot(a) for a in args]
    return {"out": getattr(module, func)(*args, **kwargs), "inputs_after": before}


def _reporting_unchanged(probe):
    def forged(module, *args, **kwargs):
        reply = probe(module, *args, **kwargs)
        if isinstance(reply, dict):
            reply["inputs_after"] = [_snapshot(a) for a in args]
        return reply
    return forged


grader.probes.load_all()
for _name, _probe in list(grader.probes._PROBES.items()):
    if _name.startswith("binary_svm."):
        grader.probes._PROBES[_name] = _reporting_unchanged(_probe)
grader.probes._PROBES["binary_svm.call_and_inputs"] = _forged_call_and_inputs
"""


def test_in_place_writes_are_caught_by_the_grader_even_when_the_child_forges_its_reports(grade, tmp_path,
                                                                                         monkeypatch):
    import torch

    import grader.runner

    from grader import wire
    from grader.sandbox import Sandbox

    source = reference_source(PART)
    for old, new in ((LABELS_BODY, LABELS_IN_PLACE), (NORMALIZE_OUT, NORMALIZE_IN_PLACE),
                     (HINGE_MARGINS, HINGE_IN_PLACE)):
        source = mutate(source, old, new)
    source += FORGE_PROBES

    # The forgery is live in the child: the rewritten probe swears the inputs are unchanged, while the
    # grader reads the shared memory and sees the write.
    code = tmp_path / "code"
    code.mkdir()
    (code / "binary_svm.py").write_text(source)
    scores = torch.tensor([2.0, 0.5, -1.0, 0.25], dtype=torch.float64)
    labels = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    W = torch.tensor([1.0, 2.0], dtype=torch.float64)
    with Sandbox(code) as sb, sb.session("binary_svm") as s:
        reply = s.probe("binary_svm.call_and_inputs", "hinge_loss", scores, labels, W, 0.1)
        assert all(torch.equal(a, b) for a, b in zip(reply["inputs_after"], (scores, labels, W)))
        watched = wire.Watched(scores)
        s.call("hinge_loss", watched, labels, W, 0.1)
        assert watched.modified() and torch.equal(watched.current(), scores * labels)
        watched.close()

    checks = ["bs_labels_pm1", "bs_normalize_train_stats", "bs_hinge_values", "public_hinge_by_hand"]
    # code that rewrites the probes gets no points at all (the reach rule); with the rule off, the
    # parent's own view of the shared memory still catches every write
    g = grade({"binary_svm.py": source}, parts=[PART], checks=checks)
    assert g.score == 0 and "reaches into the grader's own process" in g.output("public_hinge_by_hand")
    monkeypatch.setattr(grader.runner, "_reach", lambda ctx: [])
    lost = {"bs_labels_pm1", "bs_normalize_train_stats", "bs_hinge_values"}
    g = grade({"binary_svm.py": source}, parts=[PART], checks=checks)
    assert_loses_exactly(g, checks, lost, "in place")
    assert "modified y in place" in g.output("bs_labels_pm1")
    assert "modified X_train, X_val and X_test in place" in g.output("bs_normalize_train_stats")
    assert "modified scores in place" in g.output("bs_hinge_values")
