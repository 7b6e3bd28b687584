"""Hostile and broken submissions: every fixture under tests/attacks/ graded end to end.

Each fixture is named after what it does. A ``<name>.py`` fixture is appended to the
reference solution (a later ``def`` replaces the reference's function), so exactly one
thing is wrong with the submission; a ``<name>/`` folder is copied as the submission;
a ``<name>.cells.py`` file lists notebook cells (``# %%`` starts a cell, ``# %% reference``
is a cell holding the reference solution). ``@@NAME@@`` placeholders are filled in by
the test (paths of this run, a port, a marker prefix).

Every test asserts the outcome of each check it runs, key phrases of the message the
student reads, that the other checks are still graded, that the score is exactly the
points of the checks that passed, and (through ``grade_attack``) that results.json is
schema-valid and was written by the grader.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import stat
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from conftest import ASSIGNMENT, REPO, SOLUTIONS, Graded, reference_source, write_submission

from grader import results as res
from grader.sandbox import Limits

ATTACKS = Path(__file__).parent / "attacks"
NOBODY_WRITABLE = 0o1777
ROOT_USER = os.geteuid() == 0

# Short limits so that a fixture that hangs costs seconds, not minutes.
FAST = Limits(import_timeout=8.0, call_timeout=4.0, call_timeout_cap=4.0, memory_mb=512, file_mb=16,
              output_kill_mb=4, max_processes=32, tmp_mb=48)
# Without the private /tmp (what a grader gets where mount namespaces are refused): the
# fixtures' marker and heartbeat files in shared folders are then visible to the test.
SHARED_TMP = dataclasses.replace(FAST, tmp_mb=0)
# For fixtures that train or import every probe module: a real grading's time limits, not 4 s per call.
REAL_TIME = dataclasses.replace(FAST, import_timeout=60.0, call_timeout=120.0, call_timeout_cap=None, memory_mb=1024)

S = "svm_naive_data_term"          # svm_loss_naive against the reference (4 points)
SM = "softmax_naive_data_term"     # softmax_loss_naive against the reference (4 points)
P = "predict_contract"             # predict_linear_classifier, called directly (2 points)
G = "public_svm_grid"              # svm_get_search_params, called directly (1 point)


# ----------------------------------------------------------------------------- helpers


def fill(text: str, subs: dict[str, str]) -> str:
    for key, value in subs.items():
        text = text.replace(f"@@{key}@@", value)
    assert "@@" not in text.replace("@@REFERENCE@@", ""), f"unfilled placeholder in {text[:200]!r}"
    return text.replace("@@REFERENCE@@", reference_source())


def cells_to_notebook(text: str) -> str:
    cells: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("# %% reference"):
            cells += [reference_source(), ""]
        elif line.startswith("# %%"):
            cells.append("")
        elif cells:
            cells[-1] += line
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                     "source": c} for c in cells if c.strip()],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb)


def attack(name: str, **subs: str) -> dict[str, str | bytes]:
    """The submission files of fixture ``name`` with placeholders filled in."""
    if (ATTACKS / f"{name}.py").is_file():
        text = fill((ATTACKS / f"{name}.py").read_text(), subs)
        # "# part: MODULE" and "# base: stub" on the first lines: another part, or its untouched stub
        header = dict(line[2:].split(": ", 1) for line in text.splitlines()[:2] if line.startswith(("# part: ",
                                                                                                   "# base: ")))
        module = header.get("part", "linear_classifier")
        base = (ASSIGNMENT / f"{module}.py").read_text() if header.get("base") == "stub" else reference_source(module)
        return {f"{module}.py": base + f"\n\n# ---- attack: {name}\n" + text}
    if (ATTACKS / f"{name}.cells.py").is_file():
        return {"linear_classifier.ipynb": cells_to_notebook(fill((ATTACKS / f"{name}.cells.py").read_text(), subs))}
    folder = ATTACKS / name
    assert folder.is_dir(), f"no fixture named {name}"
    files: dict[str, str | bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            rel = str(path.relative_to(folder))
            data = path.read_bytes()
            try:
                files[rel] = fill(data.decode(), subs)
            except UnicodeDecodeError:
                files[rel] = data
    return files


@pytest.fixture(scope="module")
def zygote():
    """One zygote for the module's gradings (as in a real run, started before secrets load)."""
    from grader.commands import hidden_paths
    from grader.sandbox import Zygote

    z = Zygote(hidden_paths=hidden_paths())
    yield z
    z.close()


@pytest.fixture
def box(zygote):
    """A folder every user can traverse (like /autograder/results); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="attack-"))
    os.chmod(path, 0o755)
    _SHARED_ZYGOTE[0] = zygote
    yield path
    shutil.rmtree(path, ignore_errors=True)


_SHARED_ZYGOTE: list = [None]


@pytest.fixture
def no_reach_gate(monkeypatch):
    """Turns off the rule that code reaching into the grader gets no points (``grader.runner._reach``),
    for fixtures that do so: the layer under the rule must hold on its own."""
    import grader.runner

    monkeypatch.setattr(grader.runner, "_reach", lambda ctx: [])


def grade_attack(box: Path, files: dict | Path, checks: list[str], *, limits: Limits = FAST,
                 budget: float | None = None) -> Graded:
    """Grade like Gradescope does (results in a root-owned folder), validate results.json."""
    from grader.commands import grade_to_file

    folder = files if isinstance(files, Path) else write_submission(box / "submission", files)
    results_dir = box / "results"
    results_dir.mkdir(exist_ok=True)
    os.chmod(results_dir, 0o755)
    results_path = results_dir / "results.json"
    grade_to_file(folder, results_path, checks=checks, limits=limits, budget=budget, zygote=_SHARED_ZYGOTE[0])
    st = results_path.lstat()
    assert stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid(), "results.json was not written by the grader"
    doc = json.loads(results_path.read_text())
    res.validate(doc)
    assert sorted(p.name for p in results_dir.iterdir()) == ["results.json"], list(results_dir.iterdir())
    return Graded(doc, results_path)


def expect(g: Graded, *, passed: tuple[str, ...] = (), failed: dict[str, list[str]] | None = None,
           skipped: dict[str, list[str]] | None = None) -> None:
    """Exact outcomes, key phrases of each message, and a score of exactly the passed checks."""
    failed = failed or {}
    skipped = skipped or {}
    outcomes = g.outcomes()
    assert set(outcomes) == set(passed) | set(failed) | set(skipped), outcomes
    for cid in passed:
        assert outcomes[cid] == "passed", (cid, g.output(cid))
    for group, want in ((failed, "failed"), (skipped, "skipped")):
        for cid, phrases in group.items():
            text = g.output(cid)
            assert outcomes[cid] == want, (cid, outcomes[cid], text)
            for phrase in phrases:
                assert phrase.lower() in text.lower(), (cid, phrase, text)
            assert "not your fault" not in text.lower(), text  # a student fault is never blamed on the grader
    earned = sum(t["max_score"] for cid, t in g.by_check().items() if cid in passed)
    assert g.score == pytest.approx(earned), (g.score, earned, outcomes)
    for cid, t in g.by_check().items():
        assert t["score"] == (t["max_score"] if cid in passed else 0), (cid, t)


# ----------------------------------------------------------------------------- faults: the whole module


@pytest.mark.parametrize("name, phrases", [
    ("syntax-error", ["has a syntax error", "none of its functions can be graded", "def svm_loss_naive(W, X, y, reg)"]),
    ("exception-at-import", ["raised KeyError while being imported", "cifar10", "_data = {}"]),
    ("missing-module-import", ["could not be imported", "ModuleNotFoundError", "tensorflow_addons_not_installed",
                               "Only torch, numpy and the Python standard library"]),
    ("infinite-loop-at-import", ["did not finish within 8 s", "top level of the module", "into functions"]),
    ("exit-at-import", ["calls exit() while being imported", "Remove exit()"]),
])
def test_module_level_fault_fails_every_check_with_the_reason(box, name, phrases):
    t0 = time.monotonic()
    g = grade_attack(box, attack(name), [S, P])
    expect(g, failed={S: phrases, P: phrases})
    # an import that hangs is waited for once, not once per check
    assert time.monotonic() - t0 < 30


# ----------------------------------------------------------------------------- faults: one function


@pytest.mark.parametrize("name, phrases", [
    ("infinite-loop-in-function", ["svm_loss_naive() did not return within 4 s", "infinite loop"]),
    ("very-slow-but-correct", ["svm_loss_naive() did not return within 4 s", "far slower than needed"]),
    ("exit-in-function", ["svm_loss_naive() called exit()", "Functions must return their result"]),
    ("sys-exit-in-function", ["svm_loss_naive() called exit()/sys.exit(0)", "remove the exit call"]),
    ("os-exit-in-function", ["ended the process (exit code 0)", "os._exit()", "Do not exit the interpreter"]),
    ("os-abort-in-function", ["svm_loss_naive()", "aborted (os.abort()"]),
    ("segfault-ctypes", ["svm_loss_naive()", "segmentation fault", "ctypes"]),
    ("recursion-overflow", ["svm_loss_naive() raised RecursionError", "unbounded recursion",
                            "return svm_loss_naive(W, X, y, reg)"]),
    ("memory-bomb", ["svm_loss_naive() ran out of memory", "limit about 512 MB"]),
    ("fork-bomb", ["svm_loss_naive() did not return within 4 s", "other processes", "do not fork"]),
    ("thread-bomb", ["svm_loss_naive() raised RuntimeError", "can't start new thread"]),
    ("gigabytes-of-stdout", ["printed more than 4 MB of output", "Remove print statements from loops"]),
    ("huge-file", ["svm_loss_naive() tried to write a file larger than 16 MB"]),
    ("fill-the-disk", ["svm_loss_naive() ran out of space for files (48 MB in all"]),
])
def test_function_fault_fails_only_its_check(box, no_reach_gate, name, phrases):
    t0 = time.monotonic()
    marker = f"fill-the-disk-{box.name}"  # this run's files only, whatever earlier runs left
    g = grade_attack(box, attack(name, MARKER=marker), [S, SM, P])
    expect(g, passed=(SM, P), failed={S: phrases})
    assert time.monotonic() - t0 < 40
    if name != "fork-bomb":
        assert "other processes" not in g.output(S)
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):  # nothing written reached the shared folders
        assert not list(Path(folder).glob(f"{marker}-*")), folder


# ----------------------------------------------------------------------------- wrong values


@pytest.mark.parametrize("name, failed, passed", [
    ("wrong-shape", {S: ["dW has shape (4, 7), expected (7, 4)", "looks transposed"]}, (SM,)),
    ("wrong-dtype", {S: ["dW has dtype torch.float32, expected torch.float64", "dtype=X.dtype"]}, (SM,)),
    ("wrong-device", {S: ["dW must be a torch.Tensor", "tensor on device meta (no data)"]}, (SM,)),
    ("nan-and-inf", {S: ["the loss is nan"], SM: ["dW contains infinite values (first at dW[0, 0])"]}, ()),
    ("numpy-or-list-instead-of-tensor", {S: ["dW is a numpy.ndarray", "return a torch.Tensor"],
                                         P: ["y_pred must be a torch.Tensor, got a list of 77 items"]}, (SM,)),
    ("tensor-subclass-pretends-equal", {S: ["the loss must be a number or a 0-dimensional tensor",
                                            "tensor subclass linear_classifier._AlwaysEqual"]}, (SM,)),
    ("torch-function-object", {S: ["the loss must be a number or a 0-dimensional tensor",
                                   "linear_classifier._Impostor"]}, (SM,)),
    ("eq-always-true", {S: ["the loss must be a number", "linear_classifier._Yes"],
                        P: ["y_pred must be a torch.Tensor, got a linear_classifier._Yes"],
                        G: ["must return a tuple (learning_rates, regularization_strengths)", "_Yes"]}, (SM,)),
    ("inplace-mutation-of-inputs", {S: ["modified its input X in place", "never assign into X"]}, (SM,)),
    ("result-changes-between-calls", {S: ["returned different results for the same inputs on a second call",
                                          "state kept between calls"]}, (SM,)),
])
def test_wrong_value_is_reported_and_never_trusted(box, name, failed, passed):
    g = grade_attack(box, attack(name), [*failed, *passed])
    expect(g, passed=passed, failed=failed)


# ----------------------------------------------------------------------------- tampering


@pytest.mark.parametrize("limits", [FAST, SHARED_TMP], ids=["private-tmp", "shared-tmp"])
def test_forge_results_json(box, limits):
    target = box / "results" / "results.json"
    g = grade_attack(box, attack("forge-results-json", RESULTS=str(target)), [S, SM], limits=limits)
    expect(g, passed=(S, SM))
    assert g.path == target and "FORGED" not in target.read_text()
    printed = g.output(S)
    assert "forgery refused: write " + str(target) in printed, printed
    assert "forgery refused: unlink " + str(target) in printed
    assert "FORGERY SUCCEEDED" not in printed


def test_fake_json_and_pass_lines_are_only_shown_as_output(box):
    g = grade_attack(box, attack("fake-json-and-pass-lines"), [S, SM])
    expect(g, passed=(SM,), failed={S: ["the loss is 123, expected"]})
    text = g.output(S)
    verdict, printed = text.split("Your code printed:", 1)
    assert "PASSED 23/23" in printed and '"score": 60' in printed and "score" not in verdict
    assert g.doc["stdout_visibility"] == "hidden" and g.score == 4


def test_read_hidden_files(box, monkeypatch):
    import grader.commands

    metadata = box / "submission_metadata.json"
    metadata.write_text('{"users": [{"email": "student@example.edu"}]}')
    os.chmod(metadata, 0o644)
    monkeypatch.setattr(grader.commands, "METADATA", metadata)
    checks_dir = REPO / "grader" / "checks"
    files = attack("read-hidden-files", CHECKS=str(checks_dir / "linear_classifier.py"),
                   SOLUTION=str(SOLUTIONS / "linear_classifier.py"), METADATA=str(metadata),
                   CHECKS_DIR=str(checks_dir), SOLUTIONS_DIR=str(SOLUTIONS))
    g = grade_attack(box, files, [S], limits=SHARED_TMP)
    expect(g, passed=(S,))
    printed = g.output(S)
    assert "snooping done" in printed and "LEAKED" not in printed, printed
    assert stat.S_IMODE(metadata.stat().st_mode) & 0o077 == 0  # the grader locked it before running code


def test_read_hidden_copies_beside_the_grader(box):
    """The checkout the grader runs from holds the reference in many forms (git history, tests, builds):
    none of it is readable by the unprivileged user that runs student code."""
    targets = [REPO / ".git" / "HEAD", REPO / "tests" / "test_corpus.py", REPO / "tests" / "conftest.py",
               SOLUTIONS / "linear_classifier.py", REPO / "grader" / "checks" / "linear_classifier.py",
               REPO / "bench" / "speed_checks.py"]
    targets += sorted((REPO / "tests" / "corpus" / "linear_classifier").glob("*.py"))[:2]
    targets += sorted(REPO.glob("*.egg-info/*"))[:1]
    assert all(t.is_file() for t in targets), targets  # the checkout has them: the attack looks in the right places
    g = grade_attack(box, attack("read-hidden-copies", REPO=str(REPO), PATHS=repr([str(t) for t in targets])),
                     [S], limits=SHARED_TMP)
    expect(g, passed=(S,))
    printed = g.output(S)
    assert "snooping done" in printed and "LEAKED" not in printed, printed


def test_import_grader_package_and_call_it(box, no_reach_gate):
    target = box / "results" / "results.json"
    g = grade_attack(box, attack("import-grader-package", RESULTS=str(target)), [S], limits=SHARED_TMP)
    expect(g, passed=(S,))
    printed = g.output(S)
    for label in ("hidden checks", "reference", "results writer"):
        assert f"refused: {label}" in printed, printed
    assert "GRADER ABUSED" not in printed


def test_monkeypatching_torch_unittest_gradescope_utils_changes_nothing_in_the_grader(box, no_reach_gate):
    import torch
    import unittest

    before = (torch.allclose, torch.equal, torch.Tensor.__eq__, unittest.TestCase.assertEqual)
    g = grade_attack(box, attack("monkeypatch-torch-unittest-gradescope"), [S, P])
    expect(g, passed=(P,), failed={S: ["the loss is 0, expected"]})
    assert (torch.allclose, torch.equal, torch.Tensor.__eq__, unittest.TestCase.assertEqual) == before


def test_rewriting_the_grader_probes_cannot_hide_what_the_grader_sees_itself(box, no_reach_gate):
    g = grade_attack(box, attack("rewrite-grader-probe"), [S, SM, P, "train_update_rule"])
    expect(g, passed=(SM, P), failed={S: ["modified its input X in place"],
                                      "train_update_rule": ["called loss_func 100 times", "once per iteration (7)"]})


# fixtures whose code reaches into the grader's process or the interpreter's internals, and the
# place the message must name
REACHING = {"rewrite-grader-probe": "imports grader.probes (line",
            "import-grader-package": "uses exec (line",
            "monkeypatch-torch-unittest-gradescope": "imports grader.compare (line",
            "kernel-attack-surface": "uses _ctypes.CDLL (line",
            "segfault-ctypes": "uses ctypes.c_int64.from_address (line",
            "autograd-through-namespaces": "uses .__dict__ (line",
            "hide-code-from-static-checks": "uses exec (line",
            "replies-that-exhaust-the-parent": "uses _sys.modules.get (line"}


@pytest.mark.parametrize("name", sorted(REACHING))
def test_code_that_reaches_into_the_grader_gets_no_points(box, name):
    """Code that can reach the grader's probes (they run in its process) can make them report
    anything, so no check of the part gives it points, whatever the check saw; the message names
    the line. The fixtures' other functions are the reference's: without the rule these pass."""
    target = box / "results" / "results.json"
    g = grade_attack(box, attack(name, RESULTS=str(target)), [G], limits=SHARED_TMP)
    reason = ["reaches into the grader's own process", REACHING[name], "no check of this part gives points"]
    expect(g, failed={G: reason})


def test_rewritten_probes_over_the_untouched_stub_earn_nothing(box, no_reach_gate, monkeypatch):
    """Part 3's untouched stub plus probes rewritten to answer with torch's own activations: with the
    rule off, values forged in the child pass the comparisons (they are torch's); with it on, nothing."""
    checks = ["nn_sigmoid_vs_torch", "nn_tanh_vs_torch", "nn_relu_vs_torch", "nn_activations_static",
              "nn_count_parameters"]
    g = grade_attack(box, attack("rewrite-probes-over-stub"), checks, limits=REAL_TIME)
    # the forgery works without the rule...
    assert g.outcomes()["nn_sigmoid_vs_torch"] == "passed", g.output("nn_sigmoid_vs_torch")
    monkeypatch.undo()
    g = grade_attack(box, attack("rewrite-probes-over-stub"), checks, limits=REAL_TIME)
    reason = ["reaches into the grader's own process", "imports grader.probes (line"]
    expect(g, failed={c: reason for c in checks if c != "nn_activations_static"},
           skipped={"nn_activations_static": ["fix", "first"]})
    assert g.score == 0


def test_an_untrained_state_sabotaged_to_look_bad_earns_nothing(box):
    """The improvement the training check pays for is measured over k-NN on the raw pixels, which the
    grader computes itself: an encoder at chance level before training and at pixel level after it
    would have 'improved' over its own untrained state, and gets nothing."""
    import re

    g = grade_attack(box, attack("sabotaged-untrained-encoder"), ["triplet_training"], limits=REAL_TIME)
    expect(g, failed={"triplet_training": ["beats k-NN on the raw pixels of the same images",
                                           "below the floor"]})
    text = g.output("triplet_training")
    found = re.search(r"trained ([0-9.]+) \(untrained ([0-9.]+)\); k-NN on the raw pixels ([0-9.]+)", text)
    assert found, text
    trained, untrained, pixels = (float(v) for v in found.groups())
    assert trained >= untrained + 0.05  # what the student's own baseline would have paid for
    assert trained < pixels + 0.05


def _mlp_accuracy(g: Graded) -> float:
    import re

    found = re.search(r"Test accuracy of MLP trained with your train_model: ([0-9.]+)", g.output("nn_mlp_accuracy"))
    assert found, g.output("nn_mlp_accuracy")
    return float(found.group(1))


def test_answer_keys_on_disk_cannot_be_read_or_used(box, monkeypatch):
    """A model that looks up the labels of the test images in the MNIST files: the files are
    unreadable to the child, and the parent rebuilds the trained model to score it, so even a
    readable copy (the protection turned off, below) gains nothing."""
    from grader import data as gdata

    checks = ["nn_mlp_model", "nn_train_sgd_steps", "nn_mlp_accuracy"]
    roots = [str(p) for p in gdata.data_root_candidates()]
    training = dataclasses.replace(REAL_TIME, tmp_mb=0)  # the readable copy lies in the shared /tmp
    g = grade_attack(box, attack("answer-keys-on-disk", ROOTS=repr(roots)), checks, limits=training)
    expect(g, passed=tuple(checks))
    printed = g.output("nn_mlp_accuracy")
    assert "refused:" in printed and "ANSWER KEY READ" not in printed, printed
    assert _mlp_accuracy(g) < 0.99
    # a world-readable copy, left readable: the lookup now works in the child, and changes nothing
    source = gdata.locate("mnist")
    copy = box / "readable"
    shutil.copytree(source.root / "MNIST", copy / "MNIST")
    for folder in (copy, copy / "MNIST", copy / "MNIST" / "raw"):
        os.chmod(folder, 0o755)
    for f in (copy / "MNIST" / "raw").iterdir():
        os.chmod(f, 0o644)
    monkeypatch.setenv("GRADER_DATA", str(copy))
    monkeypatch.setattr(gdata, "answer_key_folders", lambda explicit=None: [])
    g = grade_attack(box, attack("answer-keys-on-disk", ROOTS=repr([str(copy)])), checks, limits=training)
    expect(g, passed=tuple(checks))
    assert "ANSWER KEY READ" in g.output("nn_mlp_accuracy")
    assert _mlp_accuracy(g) < 0.99


def test_code_hidden_from_the_static_checks_is_named(box, no_reach_gate):
    checks = ["svm_vectorized_data_term", "svm_vectorized_static", "softmax_vectorized_data_term",
              "softmax_vectorized_static"]
    g = grade_attack(box, attack("hide-code-from-static-checks"), checks)
    # the softmax hides autograd: with autograd off in Part 1's calls it cannot work, whatever the source
    expect(g, passed=("svm_vectorized_data_term",),
           failed={"svm_vectorized_static": ["uses exec (line", "the source does not show"],
                   "softmax_vectorized_data_term": ["autograd switched off"]},
           skipped={"softmax_vectorized_static": ["fix", "first"]})
    g = grade_attack(box, attack("hide-code-from-static-checks"), ["softmax_vectorized_static"])
    expect(g, failed={"softmax_vectorized_static": ["getattr with a name computed at run time"]})


@pytest.mark.skipif(not (ROOT_USER and os.uname().machine == "x86_64"), reason="the filter is built for x86_64")
def test_kernel_attack_surface_is_refused(box, no_reach_gate):
    g = grade_attack(box, attack("kernel-attack-surface"), [S, P])
    expect(g, passed=(S, P))
    assert "GRANTED" not in g.output(S)


def test_shadow_modules_are_never_imported(box):
    marker = box / "shadow"
    os.chmod(box, NOBODY_WRITABLE)
    g = grade_attack(box, attack("shadow-modules", MARKER=str(marker)), [S, P], limits=SHARED_TMP)
    expect(g, passed=(S, P))
    assert not list(box.glob("shadow.*"))


def test_seeding_tricks_cannot_predict_hidden_inputs(box):
    g = grade_attack(box, attack("seeding-tricks"), [S, SM])
    expect(g, passed=(S, SM))
    assert "PREDICTED" not in g.output(S)


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_network_access_is_cut(box):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    try:
        g = grade_attack(box, attack("network-access", PORT=str(server.getsockname()[1])), [S])
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()
    expect(g, passed=(S,))
    printed = g.output(S)
    assert "network refused: 127.0.0.1" in printed and "network refused: 1.1.1.1" in printed, printed
    assert "NETWORK REACHED" not in printed


# ----------------------------------------------------------------------------- processes left behind


def test_setsid_double_fork_survivor_is_killed(box):
    os.chmod(box, NOBODY_WRITABLE)
    heartbeat = box / "heartbeat"
    g = grade_attack(box, attack("setsid-survivor", HEARTBEAT=str(heartbeat)), [S], limits=SHARED_TMP)
    expect(g, passed=(S,))
    assert heartbeat.exists(), "the fixture did not manage to start its daemon"
    first = heartbeat.read_text()
    time.sleep(0.5)
    assert heartbeat.read_text() == first, "a process of the submission is still running after grading"


# ----------------------------------------------------------------------------- notebooks


@pytest.mark.parametrize("name, phrases", [
    ("notebook-malformed-json", ["linear_classifier.ipynb is not a valid notebook", "JSON is malformed",
                                 "Re-download it"]),
    ("notebook-nbformat3", ["notebook format 3", "save it again (format 4)"]),
    ("notebook-no-code-cells", ["has no code cells, so there is nothing to grade"]),
])
def test_unusable_notebook(box, name, phrases):
    g = grade_attack(box, attack(name), [S, P])
    expect(g, failed={S: phrases, P: phrases})


@pytest.mark.parametrize("name", ["notebook-magics-and-shell", "notebook-cell-never-ends"])
def test_notebook_definitions_are_graded_and_nothing_else_runs(box, name):
    os.chmod(box, NOBODY_WRITABLE)
    t0 = time.monotonic()
    g = grade_attack(box, attack(name, MARKER=str(box / "ran")), [S, P], limits=SHARED_TMP)
    expect(g, passed=(S, P))
    assert not list(box.glob("ran.*")), list(box.glob("ran.*"))
    assert "the grader used the code of linear_classifier.ipynb" in g.doc["output"]
    assert time.monotonic() - t0 < 30


# ----------------------------------------------------------------------------- files


def test_missing_file(box):
    g = grade_attack(box, attack("files-missing"), [S, P])
    phrases = ["linear_classifier.py was not found in your submission (found: README.md)"]
    expect(g, failed={S: phrases, P: phrases})


@pytest.mark.parametrize("name, note", [
    ("files-wrong-case", "Expected a file named exactly linear_classifier.py, found Linear_Classifier.py"),
    ("files-duplicate-name", "found linear_classifier (1).py; the grader used it"),
    ("files-inside-a-folder", "Found linear_classifier.py in the folder hw1 final/; the grader used it"),
])
def test_near_miss_file_name_is_graded_with_a_note(box, name, note):
    g = grade_attack(box, attack(name), [S])
    expect(g, passed=(S,))
    assert note in g.doc["output"]


def test_several_duplicates_are_not_guessed(box):
    g = grade_attack(box, attack("files-several-duplicates"), [S])
    expect(g, failed={S: ["several files look like it", "linear_classifier (1).py, linear_classifier (2).py",
                          "Submit exactly one file"]})


@pytest.mark.parametrize("target", ["/etc/passwd", str(SOLUTIONS / "linear_classifier.py")])
def test_symlinked_module_is_refused(box, target):
    folder = box / "submission"
    folder.mkdir()
    (folder / "linear_classifier.py").symlink_to(target)
    (folder / "svm_best_model.pt").symlink_to("/etc/shadow")
    g = grade_attack(box, folder, [S, "svm_saved_model_accuracy"])
    expect(g, failed={S: ["linear_classifier.py is a symbolic link", "Submit the file itself"],
                      "svm_saved_model_accuracy": ["svm_best_model.pt is a symbolic link"]})


def test_extra_files_are_ignored(box):
    os.chmod(box, NOBODY_WRITABLE)
    g = grade_attack(box, attack("files-extra", MARKER=str(box / "ran")), [S], limits=SHARED_TMP)
    expect(g, passed=(S,))
    assert not list(box.glob("ran.*"))


def test_submission_zipped_inside_a_folder(box):
    folder = box / "submission"
    folder.mkdir()
    escaped = box / "escaped.py"
    with zipfile.ZipFile(folder / "hw1.zip", "w") as zf:
        zf.writestr("hw1/linear_classifier.py", reference_source())
        zf.writestr("../../escaped.py", "print('escaped')")
        zf.writestr(str(escaped), "print('escaped')")
        link = zipfile.ZipInfo("hw1/svm_best_model.pt")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/shadow")
    g = grade_attack(box, folder, [S])
    expect(g, passed=(S,))
    assert "linear_classifier.py was taken from the zip file" in g.doc["output"]
    assert not escaped.exists()


def test_saved_model_packed_with_millions_of_objects_is_refused(box):
    """Saved models are loaded in the grader's own process: their pickled part is bounded."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"W": torch.zeros(3073, 10), "junk": list(range(3_000_000))}, buf)
    files = {"linear_classifier.py": reference_source(), "svm_best_model.pt": buf.getvalue()}
    g = grade_attack(box, files, [S, "svm_saved_model_accuracy"])
    expect(g, passed=(S,), failed={"svm_saved_model_accuracy": ["svm_best_model.pt holds",
                                                                "MB of pickled Python objects", "Save only tensors"]})


def test_corrupt_zip_is_the_students_to_fix(box):
    g = grade_attack(box, {"submission.zip": b"PK\x03\x04 this is not really a zip"}, [S])
    expect(g, failed={S: ["could not be unpacked", "BadZipFile"]})


# ----------------------------------------------------------------------------- time budget, grader crashes


def test_time_budget_reports_unstarted_checks_as_not_run(box):
    t0 = time.monotonic()
    slow = Limits(import_timeout=8.0, call_timeout=60.0, memory_mb=512)
    g = grade_attack(box, attack("infinite-loop-in-function"), [S, SM, P], limits=slow, budget=8)
    elapsed = time.monotonic() - t0
    budget_phrases = ["Not run:", "time budget was used up by earlier checks", "Make your code faster"]
    expect(g, failed={S: ["svm_loss_naive()"]}, skipped={SM: budget_phrases, P: budget_phrases})
    assert "did not return within" in g.output(S) or "time limit was already used up" in g.output(S)
    assert elapsed < 8 + 20, elapsed


@pytest.mark.parametrize("exc", [RuntimeError("grader bug"), MemoryError(), KeyboardInterrupt()])
def test_grader_crash_still_writes_a_valid_results_file(box, monkeypatch, exc):
    import grader.runner
    from grader.commands import grade_to_file

    def broken(*args, **kwargs):
        raise exc

    monkeypatch.setattr(grader.runner, "run", broken)
    folder = write_submission(box / "submission", {"linear_classifier.py": reference_source()})
    path = box / "results.json"
    if isinstance(exc, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            grade_to_file(folder, path, checks=[S])
    else:
        assert grade_to_file(folder, path, checks=[S]) is None
    doc = json.loads(path.read_text())
    res.validate(doc)
    assert doc["score"] == 0
    visible = [t for t in doc["tests"] if t.get("visibility") != "hidden"]
    assert len(visible) == 1 and "could not finish grading" in visible[0]["output"]
    assert "not a problem with your code" in visible[0]["output"]
    staff = [t for t in doc["tests"] if t.get("visibility") == "hidden"]
    assert staff and type(exc).__name__ in staff[0]["output"]


def test_fallback_results_exist_before_any_student_code_runs(box, monkeypatch):
    """If the whole process is killed mid-run (e.g. by Gradescope), the fallback file is what remains."""
    import grader.runner

    seen = {}

    def spy(*args, **kwargs):
        doc = json.loads((box / "results.json").read_text())
        res.validate(doc)
        seen["doc"] = doc
        raise SystemExit(3)

    monkeypatch.setattr(grader.runner, "run", spy)
    from grader.commands import grade_to_file

    folder = write_submission(box / "submission", {"linear_classifier.py": reference_source()})
    with pytest.raises(SystemExit):
        grade_to_file(folder, box / "results.json", checks=[S])
    assert seen["doc"]["score"] == 0 and "grading did not complete" in json.dumps(seen["doc"])
    res.validate(json.loads((box / "results.json").read_text()))


GRADESCOPE_BOX = Path("/work/shared/tools/gradescope-box")


@pytest.mark.skipif(not (ROOT_USER and GRADESCOPE_BOX.exists()), reason="needs root and the gradescope-box tool")
def test_memory_bomb_inside_gradescopes_memory_limit(box):
    """With default limits in a 768 MB / 0.5 CPU cgroup the kernel kills the child, never the grader."""
    import subprocess
    import sys

    folder = write_submission(box / "submission", attack("memory-bomb"))
    (box / "results").mkdir()
    os.chmod(box / "results", 0o755)
    results_path = box / "results" / "results.json"
    proc = subprocess.run([str(GRADESCOPE_BOX), "--", sys.executable, "-m", "grader", "grade", "--submission",
                           str(folder), "--results", str(results_path), "--check", S, "--check", SM],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    if proc.returncode == 2 and "exit=" not in proc.stderr:
        pytest.skip(f"gradescope-box could not make a cgroup: {proc.stderr[-300:]}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(results_path.read_text())
    res.validate(doc)
    g = Graded(doc, results_path)
    expect(g, passed=(SM,), failed={S: ["svm_loss_naive()", "used too much memory"]})


# ----------------------------------------------------------------------------- second round: classes of attack


SPEED = "svm_speedup"          # svm_loss_vectorized against the student's naive loss, CPU time (3 points)
SVD = "svm_vectorized_data_term"
SND = "svm_naive_data_term"


@pytest.mark.parametrize("name", ["cpu-in-vanishing-thread", "cache-keyed-on-inputs"])
def test_speed_cannot_be_faked_by_hiding_cpu_or_caching_inputs(box, name):
    """Work in a thread that has exited still counts; a cache keyed on the inputs gains nothing, as
    every timed call gets inputs it has not seen (and the values it returns are checked)."""
    g = grade_attack(box, attack(name), [SND, SVD, SPEED], limits=dataclasses.replace(SHARED_TMP, call_timeout=60,
                                                                                       call_timeout_cap=60))
    expect(g, passed=(SND, SVD), failed={SPEED: ["svm_loss_vectorized is only", "faster than your svm_loss_naive",
                                                 "It still uses"]})


def test_autograd_reached_through_namespaces_fails_whatever_the_source_looks_like(box, no_reach_gate):
    SVEC, STATIC = "softmax_vectorized_data_term", "softmax_vectorized_static"
    g = grade_attack(box, attack("autograd-through-namespaces"), [SM, SVEC, STATIC])
    expect(g, passed=(SM,), failed={SVEC: ["autograd switched off", "Derive dW from the loss yourself"]},
           skipped={STATIC: ["fix", "first"]})
    g = grade_attack(box, attack("autograd-through-namespaces"), [STATIC])
    expect(g, failed={STATIC: ["uses _grad_of", "runs or reaches code that the source does not show"]})


def test_replies_that_would_exhaust_the_parent_are_refused_within_its_memory(box):
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    g = grade_attack(box, attack("replies-that-exhaust-the-parent"), [S, P])
    expect(g, failed={S: ["returned too much data", "more than"], P: ["must be a torch.Tensor"]})
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, grown_mb  # 750 million elements in float64 would be 6 GB


def test_saved_model_that_inflates_is_refused_before_loading(box, reference_models):
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"W": torch.zeros(3073 * 200, 10, dtype=torch.float64)}, buf)  # 49 MB of zeros
    packed = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    assert len(packed.getvalue()) < 1_000_000  # small on disk, 49 MB once read
    files = {"linear_classifier.py": reference_source(), "svm_best_model.pt": packed.getvalue(),
             "softmax_best_model.pt": reference_models["softmax_best_model.pt"].read_bytes()}
    g = grade_attack(box, files, ["svm_saved_model_accuracy", "softmax_saved_model_accuracy"])
    expect(g, passed=("softmax_saved_model_accuracy",),
           failed={"svm_saved_model_accuracy": ["svm_best_model.pt is refused", "compressed entries"]})


def test_text_that_is_not_unicode_still_gives_strict_utf8_results(box):
    g = grade_attack(box, attack("lone-surrogate-in-message"), [S, P])
    expect(g, passed=(P,), failed={S: ["raised ValueError", "decoding failed at"]})
    raw = g.path.read_bytes()
    doc = json.loads(raw.decode("utf-8", errors="strict"))
    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)

    for text in strings(doc):
        text.encode("utf-8")  # a lone surrogate (from a \\udcff escape in the JSON) would raise here
    assert doc["score"] == g.score


def test_notebook_intake_fails_only_its_part_and_is_linear(box):
    nested = "1" + "+1" * 100_000  # the parser recurses once per operator
    t0 = time.monotonic()
    g = grade_attack(box, attack("notebook-deeply-nested-cell", NESTED=nested), [S, P])
    expect(g, passed=(S, P))
    assert "could not be parsed" in g.doc["output"] and time.monotonic() - t0 < 60
    # many one-line constants: converted in linear time, or refused as too much code with a message
    cells = "# %% reference\n# %%\n" + "\n".join(f"c{i} = {i}" for i in range(150_000)) + "\n"
    (box / "many.cells.py").write_text(cells)
    t0 = time.monotonic()
    g = grade_attack(box, {"linear_classifier.ipynb": cells_to_notebook(cells)}, [S, P])
    intake = time.monotonic() - t0
    expect(g, failed={S: ["more than the 2 MB a module may have"], P: ["more than the 2 MB a module may have"]})
    assert intake < 60, intake


def test_device_and_dtype_mistakes_are_named_with_their_line(box):
    """A hard-coded CUDA device on a CPU grader, and a float64 mask meeting float32 inputs: the student
    reads which line, and what to use instead (the inputs' device and dtype)."""
    g = grade_attack(box, attack("hard-coded-cuda-device"), [S, P])
    expect(g, passed=(P,), failed={S: ["asks for a CUDA GPU", 'device="cuda"', "grader runs it on the CPU",
                                       "device=X.device"]})
    F32 = "losses_keep_dtype"
    g = grade_attack(box, attack("mask-in-another-dtype"), [F32])
    test = g.by_check()[F32]
    assert test["extra_data"]["items"] == {"svm_loss_naive": "passed", "svm_loss_vectorized": "failed",
                                           "softmax_loss_naive": "passed", "softmax_loss_vectorized": "passed"}
    assert g.score == test["score"] == pytest.approx(0.75 * test["max_score"])  # only that function's share
    for phrase in ("svm_loss_vectorized", "different dtypes met in one operation", "X.t().mm(mask)", "dtype=X.dtype"):
        assert phrase in test["output"], test["output"]


# ----------------------------------------------------------------------------- work the call leaves for later
# What a call returns becomes the grader's own data (plain tensors, copied) before the call's timing
# and its torch.no_grad() end; a tensor with attributes standing in for torch's own methods is refused.
SVS = "svm_vectorized_static"


def test_work_deferred_until_the_result_is_sent_is_refused(box):
    g = grade_attack(box, attack("work-deferred-until-sent"), [SND, SVD, SPEED, SVS])
    expect(g, passed=(SND,), failed={SVD: ["attributes that replace torch's own (detach, __getstate__)"]},
           skipped={SPEED: ["fix", "first"], SVS: ["fix", "first"]})
    g = grade_attack(box, attack("work-deferred-until-sent"), [SVS])  # the loops, reached through an alias
    expect(g, failed={SVS: ["must not use Python loops", "It calls svm_loss_naive, which loops"]})


def test_autograd_run_while_the_result_is_sent_is_refused(box):
    g = grade_attack(box, attack("autograd-when-sent"), [SVD])
    expect(g, failed={SVD: ["attributes that replace torch's own (__getstate__)"]})


def test_autograd_in_a_thread_or_switched_back_on_fails(box):
    """Grad mode is per thread and student code can turn it back on; backward passes are refused in
    every thread while a loss that must not use autograd runs."""
    SVEC = "softmax_vectorized_data_term"
    g = grade_attack(box, attack("autograd-in-a-thread"), [SVD, SVEC])
    expect(g, failed={SVD: ["svm_loss_vectorized"], SVEC: ["autograd switched off", "Derive dW from the loss yourself"]})
    assert "backward pass refused" in g.output(SVD), g.output(SVD)  # the thread's error, in what it printed


def test_an_encoder_output_left_for_later_fails_the_speed_check(box):
    g = grade_attack(box, attack("encoder-output-deferred"), ["encoder_shape", "encoder_speed"], limits=REAL_TIME)
    expect(g, failed={"encoder_shape": ["in eval mode", "attributes that replace torch's own"]},
           skipped={"encoder_speed": ["fix", "first"]})
    g = grade_attack(box, attack("encoder-output-deferred"), ["encoder_speed"], limits=REAL_TIME)  # on its own
    expect(g, failed={"encoder_speed": ["must return a tensor of embeddings", "attributes that replace torch's own"]})


# ----------------------------------------------------------------------------- what probes read of student objects
# Probes read a model's parameters from its own tables and their sizes through torch, never through
# methods the student's class overrides.


def test_parameters_that_report_a_smaller_size_are_refused(box):
    g = grade_attack(box, attack("parameters-that-report-fewer"), ["encoder_properties"], limits=REAL_TIME)
    expect(g, failed={"encoder_properties": ["wide.weight is registered as a parameter but is a _CountsAsOne",
                                             "not a torch.nn.Parameter"]})


def test_parameters_left_out_of_the_listing_still_count(box):
    g = grade_attack(box, attack("parameters-hidden-from-listing"), ["encoder_properties"], limits=REAL_TIME)
    expect(g, failed={"encoder_properties": ["more than the budget of 250,000", "largest: wide.weight"]})


def test_an_odd_item_in_named_parameters_is_never_a_grader_error(box):
    g = grade_attack(box, attack("odd-item-in-named-parameters"),
                     ["public_model_shapes", "nn_linear_softmax_model", "nn_train_sgd_steps"], limits=REAL_TIME)
    expect(g, passed=("public_model_shapes", "nn_linear_softmax_model", "nn_train_sgd_steps"))


def test_probe_logits_made_up_beside_untrained_weights_earn_nothing(box):
    g = grade_attack(box, attack("probe-logits-not-from-its-weights"), ["linear_probe"], limits=REAL_TIME)
    expect(g, failed={"linear_probe": ["Z_query @ weight.T + bias"]})


def test_a_loss_history_of_nans_matches_no_expected_loss(box):
    g = grade_attack(box, attack("nan-loss-history"), ["nn_train_sgd_steps"], limits=REAL_TIME)
    expect(g, failed={"nn_train_sgd_steps": ["loss_history[0] is nan"]})

