"""Part 2: a catalogue of realistic wrong submissions, each losing exactly the points it should.

Every mutant is the reference solution with ONE bug a real student makes, written as a text
mutation of ``solutions/metric_learning.py``. For each one we grade a narrow selection of
checks (those the bug can affect, their dependents, and one neighbour that must still pass)
and assert the exact set of checks that do not pass, that the first failing check's output
names the bug, and that the score is the selection's full score minus exactly those weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from conftest import assert_loses_exactly, mutate, reference_source

# ----------------------------------------------------------------------------- check selections

BATCH = ["public_batch", "batch_contract", "sampler_contract"]
SAMPLER = ["public_sampler", "sampler_contract", "sampler_uniform", "sampler_seeded", "batch_contract"]
ENCODER = ["public_encoder", "encoder_shape", "encoder_properties", "encoder_speed", "public_batch"]
STEP = ["train_step", "sampler_contract"]
PROBE = ["linear_probe", "public_batch"]

SAMPLER_DEPENDENTS = {"sampler_uniform", "sampler_seeded"}
ENCODER_DEPENDENTS = {"encoder_properties", "encoder_speed"}

# ----------------------------------------------------------------------------- anchors in the reference

BATCH_IDX = "    idx = torch.randperm(X.shape[0], generator=generator, device=X.device)[:batch_size]\n"
BATCH_Y = "    y_batch = y[idx.to(y.device)]\n"
BATCH_BODY = BATCH_IDX + "    X_batch = X[idx]\n" + BATCH_Y
SORT = "    sorted_labels, order = torch.sort(labels, stable=True)\n"
PROBE_DETACH = "    Z = Z.detach()\n"
USABLE = "    usable = (size >= 2) & (size < B)\n"
POSITIVE = ("    k = (u[0] * (size[s] - 1).double()).floor().long()\n"
            "    k = torch.minimum(k, size[s] - 2)\n"
            "    k = k + (k >= rank[s]).long()\n"
            "    positives = order[start[s] + k]\n")
NEGATIVE = ("    m = (u[1] * (B - size[s]).double()).floor().long()\n"
            "    m = torch.minimum(m, B - size[s] - 1)\n"
            "    m = m + (m >= start[s]).long() * size[s]\n"
            "    negatives = order[m]\n")
RAND = "    u = torch.rand(2, anchors.numel(), generator=generator, dtype=torch.float64, device=device)\n"
SAMPLER_RETURN = "    # END SOLUTION\n    return anchors, positives, negatives\n"
FORWARD = "        z = self.head(self.features(x).flatten(1))\n"
HEAD = "        self.head = nn.Linear(64 * 4 * 4, z_dim)\n"
WIDTHS = "        for width in (16, 32, 64):\n"
CONV = ("            layers += [nn.Conv2d(channels, width, 3, stride=2, padding=1),\n"
        "                       nn.BatchNorm2d(width), nn.ReLU(inplace=True)]\n")
STEP_LOSS = "    loss = nn.TripletMarginLoss(margin=1.0, p=2)(Z[a], Z[p], Z[n])\n"
STEP_SAMPLE = "    a, p, n = sample_triplets(y_batch, generator)\n"
PROBE_LOOP = "    for _ in range(num_steps):\n        optimizer.zero_grad()\n        loss = loss_fn(probe(Z), y)\n"


@dataclass
class Mutant:
    name: str
    edits: list[tuple[str, str]]
    checks: list[str]
    not_passed: set[str]
    message: str                 # text the first not-passed check (in selection order) must show
    first: str | None = None     # that check, when not the first of the selection that fails


MUTANTS = [
    # ---- get_data_batch
    Mutant("batch_with_replacement",
           [(BATCH_IDX, "    idx = torch.randint(0, X.shape[0], (batch_size,), generator=generator, "
                        "device=X.device)\n")],
           BATCH, {"public_batch", "batch_contract"}, "WITHOUT replacement"),
    Mutant("batch_labels_shuffled_separately",
           [(BATCH_Y, "    y_batch = y[torch.randperm(y.shape[0], generator=generator)[:batch_size]]\n")],
           BATCH, {"public_batch", "batch_contract"}, "is not the label of X_batch[i]"),
    Mutant("batch_fixed_first_rows",
           [(BATCH_IDX, "    idx = torch.arange(batch_size, device=X.device)\n")],
           BATCH, {"batch_contract"}, "same batch on consecutive calls"),
    Mutant("batch_python_random",
           [(BATCH_IDX, "    import random\n    idx = torch.tensor(random.sample(range(X.shape[0]), batch_size))\n")],
           BATCH, {"batch_contract"}, "same seed gives different batches"),
    Mutant("batch_shuffles_data_in_place",
           [(BATCH_BODY, "    perm = torch.randperm(X.shape[0], generator=generator, device=X.device)\n"
                         "    X[:] = X[perm]\n"
                         "    y[:] = y[perm.to(y.device)]\n"
                         "    X_batch, y_batch = X[:batch_size], y[:batch_size]\n")],
           BATCH, {"batch_contract"}, "modified X and y in place; index them instead"),
    # ---- sample_triplets
    Mutant("positive_equals_anchor", [(POSITIVE, "    positives = anchors.clone()\n")],
           SAMPLER, {"public_sampler", "sampler_contract"} | SAMPLER_DEPENDENTS, "is the anchor itself"),
    Mutant("positive_drawn_from_whole_class",
           [(POSITIVE, "    k = (u[0] * size[s].double()).floor().long()\n"
                       "    positives = order[start[s] + torch.minimum(k, size[s] - 1)]\n")],
           SAMPLER, {"public_sampler", "sampler_contract"} | SAMPLER_DEPENDENTS, "is the anchor itself"),
    Mutant("negative_from_any_class",
           [(NEGATIVE, "    negatives = (u[1] * B).floor().long().clamp(max=B - 1)\n")],
           SAMPLER, {"public_sampler", "sampler_contract"} | SAMPLER_DEPENDENTS, "the anchor's own class"),
    Mutant("single_member_classes_anchor", [(USABLE, "    usable = size < B\n")],
           SAMPLER, {"public_sampler", "sampler_contract"} | SAMPLER_DEPENDENTS, "only member of class"),
    Mutant("one_class_batch_not_empty", [(USABLE, "    usable = size >= 2\n")],
           SAMPLER, {"sampler_contract"} | SAMPLER_DEPENDENTS, "no negative exists"),
    Mutant("indices_int32", [(SAMPLER_RETURN, "    # END SOLUTION\n    return anchors.int(), positives.int(), "
                                              "negatives.int()\n")],
           SAMPLER, {"public_sampler", "sampler_contract"} | SAMPLER_DEPENDENTS, "int64"),
    Mutant("negatives_uniform_over_classes",
           [(NEGATIVE, "    C = counts.numel()\n"
                       "    v = torch.rand(2, anchors.numel(), generator=generator, dtype=torch.float64, "
                       "device=device)\n"
                       "    c = (v[0] * (C - 1)).floor().long()\n"
                       "    c = c + (c >= block[s]).long()\n"
                       "    negatives = order[starts[c] + (v[1] * counts[c].double()).floor().long()]\n")],
           SAMPLER, {"sampler_uniform"}, "uniform over the CLASSES"),
    Mutant("fixed_pattern",
           [(POSITIVE, "    positives = order[start[s] + (rank[s] + 1) % size[s]]\n"),
            (NEGATIVE, "    negatives = order[(start[s] + size[s]) % B]\n")],
           SAMPLER, {"sampler_uniform", "sampler_seeded"}, "every call returned the same triplets"),
    Mutant("sampler_ignores_generator",
           [(RAND, RAND.replace("generator=generator, ", ""))],
           SAMPLER, {"sampler_seeded"}, "seeded alike give different triplets"),
    Mutant("sampler_renumbers_labels_in_place",
           [(SORT, "    labels -= labels.min()  # classes numbered from 0\n" + SORT)],
           SAMPLER, {"sampler_contract"} | SAMPLER_DEPENDENTS, "modified labels in place; sort or index a copy"),
    # ---- Encoder
    Mutant("encoder_ignores_input", [(FORWARD, "        z = self.head(self.features(torch.zeros_like(x)).flatten(1))\n")],
           ENCODER, {"encoder_shape"} | ENCODER_DEPENDENTS, "does not depend on the input"),
    Mutant("encoder_fixed_output_size", [(HEAD, "        self.head = nn.Linear(64 * 4 * 4, 64)\n")],
           ENCODER, {"encoder_shape"} | ENCODER_DEPENDENTS, "expected z_dim = 16"),
    Mutant("encoder_modifies_input",
           [(FORWARD, "        x -= x.mean(dim=(2, 3), keepdim=True)\n" + FORWARD)],
           ENCODER, {"encoder_shape"} | ENCODER_DEPENDENTS, "modified its input X in place"),
    Mutant("encoder_over_budget",
           [(WIDTHS, "        for width in (32, 64, 256):\n"),
            (HEAD, "        self.head = nn.Linear(256 * 4 * 4, z_dim)\n")],
           ENCODER, {"public_encoder", "encoder_properties"}, "parameters, more than the budget"),
    Mutant("encoder_dropout_in_eval",
           [(FORWARD, "        z = self.head(nn.functional.dropout(self.features(x).flatten(1), 0.2))\n")],
           ENCODER, {"encoder_properties"}, "different embeddings on two calls"),
    Mutant("encoder_unused_layer",
           [(HEAD, HEAD + "        self.projection = nn.Linear(z_dim, z_dim)\n")],
           ENCODER, {"encoder_properties"}, "no gradient reaches projection.weight"),
    Mutant("encoder_full_resolution_too_slow",
           [(WIDTHS, "        for width in (64, 128, 64):\n"),
            (CONV, "            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width),\n"
                   "                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]\n")],
           ENCODER, {"encoder_speed"}, "over the budget"),
    # ---- triplet_train_step
    Mutant("step_without_zero_grad", [("    optimizer.zero_grad()\n    loss.backward()\n", "    loss.backward()\n")],
           STEP, {"train_step"}, "call optimizer.zero_grad() before"),
    Mutant("step_margin_half", [(STEP_LOSS, STEP_LOSS.replace("margin=1.0", "margin=0.5"))],
           STEP, {"train_step"}, "matches margin=0.5"),
    Mutant("step_positive_negative_swapped", [(STEP_LOSS, STEP_LOSS.replace("Z[p], Z[n]", "Z[n], Z[p]"))],
           STEP, {"train_step"}, "positives and negatives swapped"),
    Mutant("step_without_optimizer_step", [("    loss.backward()\n    optimizer.step()\n", "    loss.backward()\n")],
           STEP, {"train_step"}, "weights did not change"),
    Mutant("step_left_in_eval_mode", [("    encoder.train()\n    Z = encoder(X_batch)\n", "    Z = encoder(X_batch)\n")],
           STEP, {"train_step"}, "eval mode during the forward pass"),
    Mutant("step_samples_without_generator", [(STEP_SAMPLE, "    a, p, n = sample_triplets(y_batch)\n")],
           STEP, {"train_step"}, "sample_triplets(y_batch, generator)"),
    # ---- fit_linear_probe
    Mutant("probe_never_trained", [(PROBE_LOOP, PROBE_LOOP.replace("range(num_steps)", "range(0)"))],
           PROBE, {"linear_probe"}, "is not trained"),
    Mutant("probe_fixed_ten_classes",
           [("    probe = nn.Linear(Z.shape[1], num_classes)", "    probe = nn.Linear(Z.shape[1], 10)")],
           PROBE, {"linear_probe"}, "expected an nn.Linear(8, 4)"),
    Mutant("probe_centres_embeddings_in_place",
           [(PROBE_DETACH, PROBE_DETACH + "    Z -= Z.mean(dim=0)  # centre the embeddings\n")],
           PROBE, {"linear_probe"}, "modified the embeddings Z in place"),
]


def _source(m: Mutant) -> str:
    src = reference_source("metric_learning")
    for old, new in m.edits:
        src = mutate(src, old, new)
    return src


@pytest.mark.parametrize("m", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_loses_exactly_its_points(grade, m: Mutant):
    g = grade({"metric_learning.py": _source(m)}, parts=["metric_learning"], checks=m.checks)
    first = m.first or next(c for c in g.by_check() if c in m.not_passed and g.outcome(c) == "failed")
    assert_loses_exactly(g, m.checks, m.not_passed, m.message, first=first)


def test_catalogue_is_large_and_names_are_unique():
    assert len(MUTANTS) >= 12
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)


def test_training_check_alone_catches_a_sampler_that_teaches_nothing(grade):
    """Graded without its dependencies, the training check itself fails a positive-equals-anchor
    sampler (zero loss from the start, so the encoder never learns) and still posts its value."""
    m = next(m for m in MUTANTS if m.name == "positive_equals_anchor")
    g = grade({"metric_learning.py": _source(m)}, parts=["metric_learning"], checks=["triplet_training"])
    t = g.by_check()["triplet_training"]
    assert t["extra_data"]["outcome"] == "failed" and t["score"] == 0
    assert "beats k-NN on the raw pixels" in t["output"] and "below the floor" in t["output"]
    assert g.doc["leaderboard"][0]["name"] == "probe accuracy"
