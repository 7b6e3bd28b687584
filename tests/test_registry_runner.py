"""Registry and runner: the four outcomes, dependencies, the time budget, ordering, and the
gradescope-utils regressions (issue 5: failing subTest; issue 40: setUpClass error; PR 39:
stacked partial_credit + leaderboard; a leaderboard test's score dropped from tests[]).

The checks graded here are the toy part of ``tests/toy_checks.py``; its student module is
written into a temporary folder, so every check runs real student code in the sandbox.
"""
from __future__ import annotations

import json
from pathlib import Path

import textwrap

import pytest

import toy_checks
from grader import results, runner, submission
from grader.registry import CHECKS, check, load_checks
from grader.results import Outcome


def toy_checks_named(*ids: str) -> list:
    by_id = {c.id: c for c in load_checks(["toy"])}
    return [by_id[i] for i in ids]


def run_toy(tmp_path: Path, *ids: str, budget: float | None = None, source: str = toy_checks.STUDENT_SOURCE):
    """Run the toy checks ``ids`` (in that order) on a toy submission; returns {id: CheckResult}, RunResult."""
    sub = tmp_path / "submission"
    sub.mkdir(exist_ok=True)
    (sub / "toy_student.py").write_text(source)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    files = submission.collect(sub, [toy_checks.PART], scratch)
    options = runner.GradingOptions()
    if budget is not None:
        options.budget = budget
    run = runner.run(toy_checks_named(*ids), files, options)
    return {r.key.split(".", 1)[1]: r for r in run.checks}, run


def grade_toy(tmp_path: Path, *ids: str) -> dict:
    """The full path (intake, runner, writer) for toy checks; returns the results.json document."""
    from grader.commands import grade_to_file

    sub = tmp_path / "submission"
    sub.mkdir(exist_ok=True)
    (sub / "toy_student.py").write_text(toy_checks.STUDENT_SOURCE)
    path = tmp_path / "results.json"
    grade_to_file(sub, path, parts=["toy"], checks=list(ids))
    doc = json.loads(path.read_text())
    results.validate(doc)
    return doc


def visible_entry(doc: dict, check_id: str) -> dict:
    [entry] = [t for t in doc["tests"] if t.get("extra_data", {}).get("check") == f"toy.{check_id}"
               and not t["name"].startswith("Staff only")]
    return entry


@pytest.fixture(autouse=True)
def _reset_control():
    saved = dict(toy_checks.CONTROL)
    yield
    toy_checks.CONTROL.update(saved)


# --------------------------------------------------------------------------- gradescope-utils regressions


def test_failing_sub_assertion_keeps_the_check_and_its_points(tmp_path):
    """gradescope-utils issue 5: a failing subTest made the test vanish with its points."""
    doc = grade_toy(tmp_path, "toy_passes", "toy_subtests")
    entries = [t for t in doc["tests"] if t.get("extra_data", {}).get("check") == "toy.toy_subtests"]
    assert len(entries) == 1
    [entry] = entries
    assert entry["status"] == "failed" and entry["score"] == 0 and entry["max_score"] == 3
    assert entry["extra_data"]["outcome"] == "failed"
    assert "square(3) returned 10, expected 9." in entry["output"]
    assert doc["score"] == 1  # toy_passes only; the 3 points of toy_subtests are counted as lost


def test_error_in_shared_setup_errors_only_its_users_and_results_are_written(tmp_path):
    """gradescope-utils issue 40: an exception in setUpClass crashed the runner and left no JSON."""
    doc = grade_toy(tmp_path, "toy_setup_a", "toy_setup_b", "toy_passes")
    for cid in ("toy_setup_a", "toy_setup_b"):
        entry = visible_entry(doc, cid)
        assert entry["extra_data"]["outcome"] == "error"
        assert "not a problem with your code" in entry["output"]
        assert "exploded" not in entry["output"]
    assert visible_entry(doc, "toy_passes")["extra_data"]["outcome"] == "passed"
    assert doc["score"] == 1
    staff = [t for t in doc["tests"] if t["name"].startswith("Staff only")]
    assert len(staff) == 2 and all("shared setup exploded" in t["output"] for t in staff)
    # a failed shared setup is remembered, not recomputed by every check that needs it
    assert toy_checks.CONTROL["setup_calls"] == 1


@pytest.mark.parametrize("check_id, score, column, value, order", [
    ("toy_partial_over_leaderboard", 4, "acc", 0.75, "desc"),
    ("toy_leaderboard_over_partial", 6, "acc2", 0.5, "asc"),
])
def test_partial_credit_and_leaderboard_stacked_keep_both_values(tmp_path, check_id, score, column, value, order):
    """gradescope-utils PR 39: stacking partial_credit and leaderboard lost one of the two values."""
    [c] = toy_checks_named(check_id)
    assert c.partial and c.leaderboard == (column, order) and c.weight == 10
    doc = grade_toy(tmp_path, check_id)
    entry = visible_entry(doc, check_id)
    assert entry["score"] == score and entry["max_score"] == 10
    assert doc["leaderboard"] == [{"name": column, "value": value, "order": order}]
    assert doc["score"] == score


def test_leaderboard_check_score_reaches_tests_and_value_reaches_leaderboard(tmp_path):
    """gradescope-utils: a leaderboard test's own score never reached tests[]."""
    doc = grade_toy(tmp_path, "toy_leaderboard")
    entry = visible_entry(doc, "toy_leaderboard")
    assert entry["status"] == "passed" and entry["score"] == 2 and entry["max_score"] == 2
    assert doc["leaderboard"] == [{"name": "speed", "value": 1.5, "order": "asc"}]
    assert doc["score"] == 2


def test_stale_partial_score_from_a_previous_run_is_not_reused(tmp_path):
    toy_checks.CONTROL["set_score"] = True
    first, _ = run_toy(tmp_path, "toy_maybe_score")
    assert first["toy_maybe_score"].outcome == Outcome.PASSED and first["toy_maybe_score"].score == 7
    toy_checks.CONTROL["set_score"] = False
    second, _ = run_toy(tmp_path, "toy_maybe_score")
    assert second["toy_maybe_score"].outcome == Outcome.FAILED
    assert second["toy_maybe_score"].score == 0


def test_non_finite_partial_score_and_leaderboard_value_do_not_poison_the_total(tmp_path):
    doc = grade_toy(tmp_path, "toy_passes", "toy_nan_score", "toy_inf_leaderboard")
    assert visible_entry(doc, "toy_nan_score")["score"] == 0
    assert doc["score"] == 2  # toy_passes + toy_inf_leaderboard; a NaN would zero the whole total
    assert "leaderboard" not in doc  # an infinite value is not valid JSON: it is left out
    json.loads((tmp_path / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))


# --------------------------------------------------------------------------- outcomes, dependencies, budget


def test_all_four_outcomes_in_one_run(tmp_path):
    doc = grade_toy(tmp_path, "toy_passes", "toy_subtests", "toy_student_error", "toy_depends_on_failure",
                    "toy_grader_bug")
    outcomes = {t["extra_data"]["check"].split(".")[1]: t["extra_data"]["outcome"]
                for t in doc["tests"] if not t["name"].startswith("Staff only")}
    assert outcomes == {"toy_passes": "passed", "toy_subtests": "failed", "toy_student_error": "failed",
                        "toy_depends_on_failure": "skipped", "toy_grader_bug": "error"}
    # failed through StudentCodeError: the student's exception is reported to the student
    student_error = visible_entry(doc, "toy_student_error")["output"]
    assert "boom() raised ValueError: student bug in boom" in student_error
    # skipped: names the dependency to fix first
    skipped = visible_entry(doc, "toy_depends_on_failure")["output"]
    assert skipped.startswith("Not run:") and "fix 'boom() returns without raising' first" in skipped
    # error: the student is told it is not their fault; the traceback is in a hidden staff entry only
    bug = visible_entry(doc, "toy_grader_bug")
    assert bug["output"].startswith("[grader error]") and "not a problem with your code" in bug["output"]
    assert "Traceback" not in bug["output"] and "missing key" not in bug["output"]
    staff = [t for t in doc["tests"] if t["name"].startswith("Staff only")]
    assert len(staff) == 1
    assert staff[0]["visibility"] == "hidden" and staff[0]["max_score"] == 0
    assert "Traceback" in staff[0]["output"] and "KeyError: 'missing key'" in staff[0]["output"]
    for t in doc["tests"]:
        if t["visibility"] != "hidden":
            assert "Traceback (most recent call last)" not in t["output"] or "student bug" in t["output"]
    assert doc["score"] == 1


def test_dependency_that_passed_does_not_block(tmp_path):
    toy = {c.id: c for c in load_checks(["toy"])}
    original = toy["toy_depends_on_failure"].depends
    toy["toy_depends_on_failure"].depends = ("toy_passes",)
    try:
        by_id, _ = run_toy(tmp_path, "toy_passes", "toy_depends_on_failure")
    finally:
        toy["toy_depends_on_failure"].depends = original
    assert by_id["toy_depends_on_failure"].outcome == Outcome.PASSED


def test_dependency_listed_after_its_dependent_still_runs_first(tmp_path):
    by_id, run = run_toy(tmp_path, "toy_depends_on_failure", "toy_student_error")
    assert by_id["toy_student_error"].outcome == Outcome.FAILED
    assert by_id["toy_depends_on_failure"].outcome == Outcome.SKIPPED
    assert [r.key for r in run.checks] == ["toy.toy_student_error", "toy.toy_depends_on_failure"]


def test_time_budget_checks_that_cannot_start_are_not_run(tmp_path):
    toy_checks.CONTROL["sleep"] = 1.5
    by_id, run = run_toy(tmp_path, "toy_slow", "toy_passes", "toy_subtests", budget=1.0)
    assert by_id["toy_slow"].outcome == Outcome.PASSED
    for cid in ("toy_passes", "toy_subtests"):
        r = by_id[cid]
        assert r.outcome == Outcome.SKIPPED and r.score == 0
        assert r.message.startswith("Not run") and "time budget" in r.message
    doc = results.to_json(run)
    results.validate(doc)
    assert all(t["output"].startswith("Not run: the autograder's time budget") for t in doc["tests"][1:])


def test_checks_are_ordered_by_number(tmp_path):
    ids = [c.id for c in load_checks(["toy"])]
    numbered = [c.number for c in load_checks(["toy"]) if c.number]
    assert numbered == [f"9.{i}" for i in range(1, 16)]  # 9.10 after 9.9, not after 9.1
    assert ids.index("toy_slow") > ids.index("toy_maybe_score")
    by_id, run = run_toy(tmp_path, "toy_passes", "toy_leaderboard", "toy_slow")
    assert [r.number for r in run.checks] == ["9.1", "9.8", "9.10"]
    assert by_id["toy_slow"].visibility == "hidden"


def test_run_never_raises_without_a_module(tmp_path):
    sub = tmp_path / "empty"
    sub.mkdir()
    files = submission.collect(sub, [toy_checks.PART], tmp_path / "scratch")
    run = runner.run(toy_checks_named("toy_passes", "toy_grader_bug"), files, runner.GradingOptions())
    passes, bug = run.checks
    assert passes.outcome == Outcome.FAILED and "toy_student.py was not found" in passes.message
    assert bug.outcome == Outcome.ERROR


# --------------------------------------------------------------------------- registry


def test_registry_reads_gradescope_decorators():
    by_id = {c.id: c for c in load_checks(["toy"])}
    c = by_id["toy_slow"]
    assert (c.weight, c.number, c.visibility, c.timeout, c.public) == (1.0, "9.10", "hidden", 30.0, False)
    assert by_id["toy_depends_on_failure"].depends == ("toy_student_error",)
    assert not by_id["toy_passes"].partial and by_id["toy_maybe_score"].partial
    assert by_id["toy_leaderboard"].leaderboard == ("speed", "asc") and by_id["toy_leaderboard"].weight == 2


def test_registry_rejects_bad_declarations():
    from gradescope_utils.autograder_utils.decorators import visibility, weight

    namespace = {"PART": toy_checks.PART, "check": check, "weight": weight, "visibility": visibility}

    def declare(body: str) -> None:
        exec(compile(body, "<declaration>", "exec"), dict(namespace))

    with pytest.raises(TypeError, match="needs @weight"):
        declare("@check('no weight')\ndef no_weight(ctx): pass\n")
    with pytest.raises(ValueError, match="visibility"):
        declare("@check('bad visibility')\n@weight(1)\n@visibility('secret')\ndef bad_vis(ctx): pass\n")
    with pytest.raises(ValueError, match="duplicate"):
        declare("@check('again')\n@weight(1)\ndef toy_passes(ctx): pass\n")
    with pytest.raises(TypeError, match="PART"):
        exec("@check('no part')\n@weight(1)\ndef orphan(ctx): pass\n", {"check": check, "weight": weight})
    assert [c.id for c in CHECKS["toy"]].count("toy_passes") == 1


def test_metadata_declared_on_check_itself(monkeypatch):
    """weight=/partial= on @check write what gradescope-utils' decorators write; numbers follow the
    declaration order where none is given; dependencies may be the check functions themselves; the
    folder a check module sits in says whether it is public."""
    import types

    from grader.registry import Part

    monkeypatch.setitem(CHECKS, "numbered", [])
    part = Part("numbered", "Part 7: numbered checks", files=("numbered.py",))
    public = types.ModuleType("grader.public_checks.numbered")
    hidden = types.ModuleType("grader.checks.numbered")
    for module in (public, hidden):
        module.PART, module.check = part, check

    def declare(module, body):
        exec(compile(textwrap.dedent(body), "<declaration>", "exec"), module.__dict__)

    declare(public, """
        @check("first public", weight=2)
        def first(ctx): pass

        @check("second public", weight=1, depends=[first])
        def second(ctx): pass
    """)
    declare(hidden, """
        @check("first hidden", partial=5, depends=("first",))
        def third(ctx, set_score=None):
            set_score(2.5)

        @check("numbered by hand", weight=1, number="7.9")
        def fourth(ctx): pass

        @check("after the hand-numbered one", weight=1)
        def fifth(ctx): pass
    """)
    got = {c.id: c for c in CHECKS["numbered"]}
    assert [(c.id, c.number, c.public, c.weight, c.partial) for c in CHECKS["numbered"]] == [
        ("first", "7.0.1", True, 2.0, False), ("second", "7.0.2", True, 1.0, False),
        ("third", "7.1", False, 5.0, True), ("fourth", "7.9", False, 1.0, False), ("fifth", "7.2", False, 1.0, False)]
    assert got["second"].depends == ("first",) and got["third"].depends == ("first",)
    assert public.first.__weight__ == 2 and hidden.third.__weight__ == 5  # gradescope-utils' own attribute
    with pytest.raises(TypeError, match="hidden checks' folder"):
        declare(hidden, "@check('wrongly public', weight=1, public=True)\ndef sixth(ctx): pass\n")
    with pytest.raises(TypeError, match="not both"):
        declare(hidden, "@check('both', weight=1, partial=2)\ndef seventh(ctx): pass\n")
    with pytest.raises(ValueError, match="both have number 7.9"):
        declare(hidden, "@check('clash', weight=1, number='7.9')\ndef eighth(ctx): pass\n")
    with pytest.raises(NameError):  # a dependency named by reference: a typo fails at import
        declare(hidden, "@check('typo', weight=1, depends=[frist])\ndef ninth(ctx): pass\n")


def test_a_family_declares_one_ordinary_check_per_case(monkeypatch):
    import types

    from grader.registry import Part, family

    monkeypatch.setitem(CHECKS, "kin", [])
    module = types.ModuleType("grader.checks.kin")
    module.PART, module.check, module.family = Part("kin", "Part 8: a family", files=("kin.py",)), check, family
    exec(compile(textwrap.dedent("""
        seen = []

        @check("first", weight=1)
        def kin_first(ctx): pass

        @family("{case}: the same check for {case}", {"alpha": 2, "beta": 0.5}, id="kin_{case}",
                depends=("kin_first",), after=("kin_{case}_setup",), timeout=12)
        def kin_member(ctx, case):
            seen.append(case)
    """), "<family>", "exec"), module.__dict__)
    got = [(c.id, c.title, c.number, c.weight, c.depends, c.after, c.timeout) for c in CHECKS["kin"]]
    assert got == [("kin_first", "first", "8.1", 1.0, (), (), 60.0),
                   ("kin_alpha", "alpha: the same check for alpha", "8.2", 2.0, ("kin_first",), ("kin_alpha_setup",), 12.0),
                   ("kin_beta", "beta: the same check for beta", "8.3", 0.5, ("kin_first",), ("kin_beta_setup",), 12.0)]
    for c in CHECKS["kin"][1:]:
        c.fn(None)
    assert module.seen == ["alpha", "beta"] and set(module.kin_member.__family__) == {"alpha", "beta"}


def test_unknown_dependency_is_a_declaration_error():
    from gradescope_utils.autograder_utils.decorators import weight

    namespace = {"PART": toy_checks.PART, "check": check, "weight": weight}
    exec("@check('typo', depends=('toy_pases',))\n@weight(1)\ndef toy_typo_dependency(ctx): pass\n", namespace)
    try:
        with pytest.raises(ValueError, match="toy_pases"):
            load_checks(["toy"])
    finally:
        CHECKS["toy"] = [c for c in CHECKS["toy"] if c.id != "toy_typo_dependency"]


def test_hidden_checks_declare_only_known_dependencies():
    checks = load_checks(["linear_classifier"])
    ids = {c.id for c in checks}
    assert checks and all(d in ids for c in checks for d in c.depends)


def test_per_item_judges_every_item_and_gives_each_its_share(tmp_path):
    # declared later in the part than its prerequisite, but listed first: `after` orders them
    by_id, run = run_toy(tmp_path, "toy_per_item", "toy_student_error", "toy_per_item_all_blocked",
                         "toy_per_item_undeclared")
    r = by_id["toy_per_item"]
    assert r.outcome == Outcome.FAILED and r.score == 2.0, r  # 2 of 4 items, 1 point each
    assert r.items == {"x=1": "passed", "x=2": "passed", "x=3": "failed", "x=5": "skipped"}
    assert "square(3) returned 10, expected 9" in r.message and "2 of 4 judged here pass" in r.message
    assert "x=5: not judged; fix 'boom() returns without raising' first" in r.message
    blocked = by_id["toy_per_item_all_blocked"]
    assert blocked.outcome == Outcome.SKIPPED and blocked.score == 0 and "fix" in blocked.message
    assert by_id["toy_per_item_undeclared"].outcome == Outcome.ERROR
    assert [c.key.split(".", 1)[1] for c in run.checks][:2] == ["toy_student_error", "toy_per_item"]


def test_the_registry_docstring_example_declares_what_it_says():
    """The one written example of declaring a part and its checks runs as written."""
    import re

    import torch

    from grader import registry

    block = registry.__doc__.split("::", 1)[1].split("\n\n", 1)[1].split("\nThe decorated function")[0]
    code = "\n".join(line[4:] for line in block.splitlines())
    namespace = {"__name__": "example_part_checks", "torch": torch}
    try:
        exec(compile(code, "registry-docstring", "exec"), namespace)
        checks = {c.id: c for c in registry.CHECKS["example_part"]}
        assert set(checks) == {"add_matches_reference", "trained_accuracy"}
        first, second = checks["add_matches_reference"], checks["trained_accuracy"]
        assert (first.weight, first.number, first.partial) == (4.0, "9.1", False)
        assert (second.weight, second.partial, second.depends) == (5.0, True, ("add_matches_reference",))
        assert second.leaderboard == ("accuracy", "desc")
        assert registry.PARTS["example_part"].title == "Part 9: an example"
        assert re.search(r"from grader.registry import Part, check", code)
    finally:
        registry.CHECKS.pop("example_part", None)
        registry.PARTS.pop("example_part", None)
