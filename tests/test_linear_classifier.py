"""Part 1 end to end: the reference earns every point, the untouched stubs earn none."""
from __future__ import annotations

from conftest import ASSIGNMENT, SOLUTIONS


def test_reference_gets_full_marks(grade, reference_models):
    g = grade({"linear_classifier.py": SOLUTIONS / "linear_classifier.py", **reference_models},
              parts=["linear_classifier"])
    assert g.not_passed() == set(), {k: g.output(k) for k in g.not_passed()}
    assert g.score == sum(t["max_score"] for t in g.doc["tests"]) > 0


def test_untouched_stubs_get_zero(grade):
    g = grade({"linear_classifier.py": ASSIGNMENT / "linear_classifier.py"}, parts=["linear_classifier"])
    assert g.score == 0
    outcomes = g.outcomes()
    assert set(outcomes.values()) <= {"failed", "skipped"}, outcomes
    # every check that ran says plainly that the function is not written yet
    for check_id, outcome in outcomes.items():
        text = g.output(check_id)
        if outcome == "failed" and not check_id.endswith("_accuracy") and not check_id.endswith("_static"):
            assert "not implemented yet" in text, (check_id, text)
        if outcome == "skipped":
            assert "fix" in text and "first" in text
    assert "not found in your submission" in g.output("svm_saved_model_accuracy")
