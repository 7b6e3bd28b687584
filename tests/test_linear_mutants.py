"""Part 1: a catalogue of realistic wrong submissions, each losing exactly the points it should.

Every mutant is the reference solution with ONE bug a real student makes, written as a text
mutation of ``solutions/linear_classifier.py``. For each one we grade a narrow selection of
checks (those the bug can affect, their dependents, and at least one neighbour that must
still pass) and assert:

* the exact set of checks that do not pass (failed or skipped);
* that the first failing check's output names the bug;
* that the score is the selection's full score minus exactly the weights of those checks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from conftest import assert_loses_exactly, mutate, reference_source

# ----------------------------------------------------------------------------- check selections

PUBLIC_LOSSES = ["public_svm_sanity", "public_softmax_sanity", "public_gradient_check", "public_vectorized_agrees"]
SVM = PUBLIC_LOSSES + [
    "svm_naive_data_term", "svm_naive_regularisation", "svm_naive_gradient_check",
    "svm_vectorized_data_term", "svm_vectorized_regularisation", "svm_vectorized_static", "svm_speedup",
    "losses_keep_dtype", "classifier_objects",
    "softmax_naive_data_term",  # neighbour: the softmax side must be untouched
]
SOFTMAX = PUBLIC_LOSSES + [
    "softmax_naive_data_term", "softmax_naive_regularisation", "softmax_naive_gradient_check",
    "softmax_vectorized_data_term", "softmax_vectorized_regularisation", "softmax_stability",
    "softmax_vectorized_static", "softmax_speedup", "losses_keep_dtype", "classifier_objects",
    "svm_naive_data_term",  # neighbour
]
TRAINING = ["sample_batch_contract", "train_update_rule", "predict_contract", "one_param_set_contract",
            "classifier_objects", "svm_vectorized_data_term"]
GRIDS = ["public_svm_grid", "public_softmax_grid", "one_param_set_contract"]
ACCURACY = ["svm_saved_model_accuracy", "softmax_saved_model_accuracy"]

# checks skipped when a loss's data-term check fails (they depend on it)
SVM_NAIVE_DEPENDENTS = {"svm_naive_regularisation", "svm_speedup"}
SVM_VEC_DEPENDENTS = {"svm_vectorized_regularisation", "svm_vectorized_static", "svm_speedup", "classifier_objects"}
SOFTMAX_NAIVE_DEPENDENTS = {"softmax_naive_regularisation", "softmax_stability", "softmax_speedup"}
SOFTMAX_VEC_DEPENDENTS = {"softmax_vectorized_regularisation", "softmax_stability", "softmax_vectorized_static",
                          "softmax_speedup", "classifier_objects"}

# ----------------------------------------------------------------------------- anchors in the reference

SVM_NAIVE_AVERAGE = "                dW[:, y[i]] -= X[i]\n\n    loss /= num_train\n    dW /= num_train\n"
SOFTMAX_NAIVE_AVERAGE = "                dW[:, j] += p_j * X[i]\n\n    loss /= num_train\n    dW /= num_train\n"
SVM_NAIVE_REG = ("    dW /= num_train\n\n    loss += reg * torch.sum(W * W)\n    dW += 2 * reg * W\n"
                 "    # END SOLUTION\n    return loss, dW\n\n\ndef svm_loss_vectorized")
SVM_VEC_GRAD = "    dW = X.t().mm(coeff)\n    dW.add_(W, alpha=2 * reg)\n"
SOFTMAX_VEC_LOSS = "    loss = (sum_exp.log().sum() - correct_class_scores.sum()) / num_train\n"
SOFTMAX_VEC_BODY_START = "    num_train = X.shape[0]\n    rows = torch.arange(num_train, device=X.device)\n\n" \
                         "    scores = X.mm(W)                                      # (N, C)\n" \
                         "    scores.sub_(scores.max(dim=1, keepdim=True).values)\n"


@dataclass(frozen=True)
class Mutant:
    name: str
    edits: tuple[tuple[str, str], ...]   # (old, new) text replacements, applied in order
    checks: tuple[str, ...]              # the checks graded
    lost: frozenset[str]                 # the checks that must not pass
    phrase: str                          # named in the first failing check's output
    needs_models: bool = False           # submit the reference's saved models too
    notes: str = field(default="", compare=False)

    def source(self) -> str:
        src = reference_source()
        for old, new in self.edits:
            src = mutate(src, old, new)
        return src


def M(name: str, edits, checks, lost, phrase: str, **kw) -> Mutant:
    if isinstance(edits[0], str):
        edits = (edits,)
    return Mutant(name, tuple(edits), tuple(checks), frozenset(lost), phrase, **kw)


MUTANTS = [
    # ------------------------------------------------------------------ svm_loss_naive
    M("svm_forgot_1_over_N",
      (SVM_NAIVE_AVERAGE, "                dW[:, y[i]] -= X[i]\n\n"),
      SVM, {"public_svm_sanity", "public_vectorized_agrees", "svm_naive_data_term"} | SVM_NAIVE_DEPENDENTS,
      "summed over the N examples instead of averaged"),
    M("svm_dW_forgot_1_over_N",
      (SVM_NAIVE_AVERAGE, "                dW[:, y[i]] -= X[i]\n\n    loss /= num_train\n"),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_naive_data_term", "svm_naive_gradient_check"}
      | SVM_NAIVE_DEPENDENTS,
      "summed over the N examples instead of averaged"),
    M("svm_half_reg_convention",
      (SVM_NAIVE_REG, SVM_NAIVE_REG.replace("loss += reg *", "loss += 0.5 * reg *").replace("dW += 2 * reg * W",
                                                                                           "dW += reg * W")),
      SVM, {"public_vectorized_agrees", "svm_naive_regularisation"},
      "0.5 * reg"),
    M("svm_reg_gradient_reg_W_not_2_reg_W",
      (SVM_NAIVE_REG, SVM_NAIVE_REG.replace("dW += 2 * reg * W", "dW += reg * W")),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_naive_regularisation",
            "svm_naive_gradient_check"},
      "2 * reg * W; you used reg * W"),
    M("svm_counts_correct_class",
      ("            if j == y[i]:\n                continue\n", ""),
      SVM, {"public_svm_sanity", "public_vectorized_agrees", "svm_naive_data_term"} | SVM_NAIVE_DEPENDENTS,
      "j == y[i]"),
    M("svm_margin_delta_0",
      ("margin = scores[j] - correct_class_score + 1", "margin = scores[j] - correct_class_score"),
      SVM, {"public_svm_sanity", "public_vectorized_agrees", "svm_naive_data_term"} | SVM_NAIVE_DEPENDENTS,
      "margin delta"),
    M("svm_gradient_wrong_sign",
      ("                dW[:, j] += X[i]\n                dW[:, y[i]] -= X[i]\n",
       "                dW[:, j] -= X[i]\n                dW[:, y[i]] += X[i]\n"),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_naive_data_term", "svm_naive_gradient_check"}
      | SVM_NAIVE_DEPENDENTS,
      "wrong sign"),
    M("svm_naive_dW_default_dtype",
      ("    dW = torch.zeros_like(W)\n    num_classes = W.shape[1]\n    num_train = X.shape[0]\n"
       "    loss = torch.zeros((), dtype=W.dtype, device=W.device)\n    for i in range(num_train):\n"
       "        scores = W.t().mv(X[i])\n        correct_class_score",
       "    dW = torch.zeros(W.shape)\n    num_classes = W.shape[1]\n    num_train = X.shape[0]\n"
       "    loss = torch.zeros((), dtype=W.dtype, device=W.device)\n    for i in range(num_train):\n"
       "        scores = W.t().mv(X[i])\n        correct_class_score"),
      SVM, {"public_svm_sanity", "public_gradient_check", "public_vectorized_agrees", "svm_naive_data_term",
            "svm_naive_gradient_check"} | SVM_NAIVE_DEPENDENTS,
      "dtype"),
    # ------------------------------------------------------------------ svm_loss_vectorized
    M("svm_vectorized_dW_forgot_1_over_N",
      ("    coeff.div_(num_train)\n", ""),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_vectorized_data_term"} | SVM_VEC_DEPENDENTS,
      "summed over the N examples instead of averaged"),
    M("svm_vectorized_missing_reg_gradient",
      (SVM_VEC_GRAD, "    dW = X.t().mm(coeff)\n"),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_vectorized_regularisation"},
      "missing the gradient of the regulariser"),
    M("svm_vectorized_python_loop",
      ("    margins[rows, y] = 0\n", "    for i in range(num_train):\n        margins[i, y[i]] = 0\n"),
      SVM, {"svm_vectorized_static"},
      "Python loop"),
    M("svm_vectorized_calls_naive",
      ("    # BEGIN SOLUTION\n    num_train = X.shape[0]\n    rows = torch.arange(num_train, device=X.device)\n\n"
       "    scores = X.mm(W)                                      # (N, C)\n    correct_class_scores",
       "    # BEGIN SOLUTION\n    return svm_loss_naive(W, X, y, reg)\n    num_train = X.shape[0]\n"
       "    rows = torch.arange(num_train, device=X.device)\n\n"
       "    scores = X.mm(W)                                      # (N, C)\n    correct_class_scores"),
      SVM, {"svm_vectorized_static", "svm_speedup"},
      "calls svm_loss_naive"),
    M("svm_vectorized_dW_aliases_W_in_place",
      (SVM_VEC_GRAD, "    dW = W\n    dW.mul_(2 * reg).add_(X.t().mm(coeff))\n"),
      SVM, {"svm_vectorized_data_term"} | SVM_VEC_DEPENDENTS,
      "in place"),
    M("svm_vectorized_dW_transposed",
      (SVM_VEC_GRAD, "    dW = coeff.t().mm(X)\n    dW.add_(W.t(), alpha=2 * reg)\n"),
      SVM, {"public_gradient_check", "public_vectorized_agrees", "svm_vectorized_data_term", "losses_keep_dtype"}
      | SVM_VEC_DEPENDENTS,
      "transposed"),
    M("svm_vectorized_casts_to_float64",
      ("    scores = X.mm(W)                                      # (N, C)\n    correct_class_scores",
       "    W, X = W.double(), X.double()\n"
       "    scores = X.mm(W)                                      # (N, C)\n    correct_class_scores"),
      SVM, {"losses_keep_dtype"},
      "dtype torch.float64, expected torch.float32"),
    # ------------------------------------------------------------------ softmax_loss_naive
    M("softmax_dW_forgot_1_over_N",
      (SOFTMAX_NAIVE_AVERAGE, "                dW[:, j] += p_j * X[i]\n\n    loss /= num_train\n"),
      SOFTMAX, {"public_gradient_check", "public_vectorized_agrees", "softmax_naive_data_term",
                "softmax_naive_gradient_check"} | SOFTMAX_NAIVE_DEPENDENTS,
      "summed over the N examples instead of averaged"),
    M("softmax_forgot_minus_1_at_correct_class",
      ("dW[:, j] += (p_j - 1) * X[i]", "dW[:, j] += p_j * X[i]"),
      SOFTMAX, {"public_gradient_check", "public_vectorized_agrees", "softmax_naive_data_term",
                "softmax_naive_gradient_check"} | SOFTMAX_NAIVE_DEPENDENTS,
      "subtract 1 at the correct class"),
    M("softmax_naive_unstable",
      ("        scores = scores - scores.max()\n", ""),
      SOFTMAX, {"softmax_stability"},
      "subtract each row's maximum"),
    # ------------------------------------------------------------------ softmax_loss_vectorized
    M("softmax_vectorized_unstable",
      ("    scores.sub_(scores.max(dim=1, keepdim=True).values)\n", ""),
      SOFTMAX, {"softmax_stability"},
      "subtract each row's maximum"),
    M("softmax_vectorized_max_taken_not_subtracted",
      ("    scores.sub_(scores.max(dim=1, keepdim=True).values)\n",
       "    row_max = scores.max(dim=1, keepdim=True).values  # computed, never subtracted\n"),
      SOFTMAX, {"softmax_stability"},
      "takes a maximum, yet the result is not finite"),
    M("softmax_vectorized_forgot_1_over_N",
      ((SOFTMAX_VEC_LOSS, "    loss = sum_exp.log().sum() - correct_class_scores.sum()\n"),
       ("    probs.div_(num_train)\n", "")),
      SOFTMAX, {"public_vectorized_agrees", "softmax_vectorized_data_term"} | SOFTMAX_VEC_DEPENDENTS,
      "summed over the N examples instead of averaged"),
    M("softmax_vectorized_half_reg_in_loss_only",
      ("    loss = loss + reg * torch.sum(W * W)\n", "    loss = loss + 0.5 * reg * torch.sum(W * W)\n"),
      SOFTMAX, {"public_gradient_check", "public_vectorized_agrees", "softmax_vectorized_regularisation"},
      "0.5 * reg"),
    M("softmax_vectorized_uses_cross_entropy",
      (SOFTMAX_VEC_LOSS, "    loss = torch.nn.functional.cross_entropy(X.mm(W), y)\n"),
      SOFTMAX, {"softmax_vectorized_static"},
      "torch.nn.functional.cross_entropy"),
    M("softmax_vectorized_uses_autograd",
      (SOFTMAX_VEC_BODY_START,
       "    Wg = W.detach().clone().requires_grad_(True)\n"
       "    s = X.mm(Wg)\n"
       "    s = s - s.max(dim=1, keepdim=True).values\n"
       "    lossg = (s.exp().sum(dim=1).log() - s[torch.arange(X.shape[0], device=X.device), y]).mean()\n"
       "    lossg = lossg + reg * torch.sum(Wg * Wg)\n"
       "    lossg.backward()\n"
       "    return lossg.detach(), Wg.grad\n" + SOFTMAX_VEC_BODY_START),
      SOFTMAX, {"public_gradient_check", "public_vectorized_agrees", "softmax_vectorized_data_term",
                "losses_keep_dtype"} | SOFTMAX_VEC_DEPENDENTS,
      "autograd switched off"),
    # ------------------------------------------------------------------ sample_batch
    M("sample_batch_labels_not_paired",
      ("    y_batch = y[idx]\n", "    y_batch = y[torch.randint(0, num_train, (batch_size,), device=y.device)]\n"),
      TRAINING, {"sample_batch_contract"},
      "same indices"),
    M("sample_batch_first_rows",
      ("    idx = torch.randint(0, num_train, (batch_size,), device=X.device)\n",
       "    idx = torch.arange(batch_size, device=X.device)\n"),
      TRAINING, {"sample_batch_contract"},
      "same batch twice"),
    M("sample_batch_python_random",
      (("import torch\n", "import random\n\nimport torch\n"),
       ("    idx = torch.randint(0, num_train, (batch_size,), device=X.device)\n",
        "    idx = torch.tensor(random.choices(range(num_train), k=batch_size), device=X.device)\n")),
      TRAINING, {"sample_batch_contract"},
      "not Python's random"),
    M("sample_batch_from_range_batch_size",
      ("    idx = torch.randint(0, num_train, (batch_size,), device=X.device)\n",
       "    idx = torch.randint(0, batch_size, (batch_size,), device=X.device)\n"),
      TRAINING, {"sample_batch_contract"},
      "uniformly from range(num_train)"),
    # ------------------------------------------------------------------ train_linear_classifier
    M("train_gradient_ascent",
      ("        W -= learning_rate * grad\n", "        W += learning_rate * grad\n"),
      TRAINING, {"train_update_rule"},
      "wrong sign"),
    M("train_full_dataset_not_minibatch",
      ("        loss, grad = loss_func(W, X_batch, y_batch, reg)\n", "        loss, grad = loss_func(W, X, y, reg)\n"),
      TRAINING, {"train_update_rule"},
      "minibatch of batch_size rows"),
    M("train_init_without_1e_6_scale",
      ("        W = 1e-6 * torch.randn(dim, num_classes", "        W = torch.randn(dim, num_classes"),
      TRAINING, {"train_update_rule"},
      "1e-6 * torch.randn"),
    # ------------------------------------------------------------------ predict_linear_classifier
    M("predict_argmax_dim0",
      ("y_pred = torch.argmax(X.mm(W), dim=1)", "y_pred = torch.argmax(X.mm(W), dim=0)"),
      TRAINING + ACCURACY, {"predict_contract", "classifier_objects"},
      "argmax", needs_models=True,
      notes="the saved models are scored with the grader's own predict, so they keep their points"),
    M("predict_returns_float",
      ("    y_pred = torch.argmax(X.mm(W), dim=1)\n",
       "    y_pred = torch.zeros(X.shape[0], device=X.device)\n    y_pred[:] = torch.argmax(X.mm(W), dim=1)\n"),
      TRAINING, {"predict_contract", "classifier_objects"},
      "int64"),
    # ------------------------------------------------------------------ search grids
    M("svm_grid_30_combinations",
      ("    learning_rates = [3e-4, 1e-3, 3e-3]\n    regularization_strengths = [3e-2, 1e-1, 3e-1]\n",
       "    learning_rates = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]\n"
       "    regularization_strengths = [1e-2, 3e-2, 1e-1, 3e-1, 1.0, 3.0]\n"),
      GRIDS, {"public_svm_grid"},
      "30 combinations"),
    M("softmax_grid_single_learning_rate",
      ("    learning_rates = [3e-3, 1e-2, 3e-2]\n", "    learning_rates = [1e-2]\n"),
      GRIDS, {"public_softmax_grid"},
      "at least 2"),
    # ------------------------------------------------------------------ test_one_param_set
    M("one_param_set_hard_coded_num_iters",
      ('    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, num_iters)\n',
       '    cls.train(data_dict["X_train"], data_dict["y_train"], lr, reg, 1500)\n'),
      TRAINING, {"one_param_set_contract"},
      "num_iters"),
    M("one_param_set_percent",
      (("(y_train_pred == data_dict[\"y_train\"]).sum().item() / y_train_pred",
        "100.0 * (y_train_pred == data_dict[\"y_train\"]).sum().item() / y_train_pred"),
       ("(y_val_pred == data_dict[\"y_val\"]).sum().item() / y_val_pred",
        "100.0 * (y_val_pred == data_dict[\"y_val\"]).sum().item() / y_val_pred")),
      TRAINING, {"one_param_set_contract"},
      "percentage"),
    M("one_param_set_train_val_swapped",
      (("    train_acc = (y_train_pred", "    val_acc = (y_train_pred"),
       ("    val_acc = (y_val_pred", "    train_acc = (y_val_pred")),
      TRAINING, {"one_param_set_contract"},
      "swapped"),
    M("one_param_set_count_not_fraction",
      (("(y_train_pred == data_dict[\"y_train\"]).sum().item() / y_train_pred.shape[0]",
        "(y_train_pred == data_dict[\"y_train\"]).sum().item()"),
       ("(y_val_pred == data_dict[\"y_val\"]).sum().item() / y_val_pred.shape[0]",
        "(y_val_pred == data_dict[\"y_val\"]).sum().item()")),
      TRAINING, {"one_param_set_contract"},
      "number of correct predictions"),
    # ------------------------------------------------------------------ classifier objects
    M("linear_svm_loss_is_softmax",
      ("        return svm_loss_vectorized(W, X_batch, y_batch, reg)\n",
       "        return softmax_loss_vectorized(W, X_batch, y_batch, reg)\n"),
      TRAINING, {"classifier_objects"},
      "LinearSVM.loss"),
]


def test_catalogue_is_large_and_named_uniquely():
    names = [m.name for m in MUTANTS]
    assert len(names) == len(set(names)) >= 28
    for m in MUTANTS:
        assert m.lost <= set(m.checks), m.name
        assert set(m.checks) - m.lost, f"{m.name}: no neighbouring check that must still pass"
        assert m.source() != reference_source(), m.name


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_exactly_its_points(mutant: Mutant, grade, request):
    files = {"linear_classifier.py": mutant.source()}
    if mutant.needs_models:
        files.update(request.getfixturevalue("reference_models"))
    g = grade(files, parts=["linear_classifier"], checks=list(mutant.checks))
    assert_loses_exactly(g, mutant.checks, mutant.lost, mutant.phrase)
