"""Part 1 end to end: the reference earns every point, the untouched stubs earn none."""
from __future__ import annotations

from conftest import ASSIGNMENT, SOLUTIONS, assert_full_marks, assert_untouched_stubs


def test_reference_gets_full_marks(grade, reference_models):
    g = grade({"linear_classifier.py": SOLUTIONS / "linear_classifier.py", **reference_models},
              parts=["linear_classifier"])
    assert_full_marks(g)


def test_untouched_stubs_get_zero(grade):
    g = grade({"linear_classifier.py": ASSIGNMENT / "linear_classifier.py"}, parts=["linear_classifier"])
    assert_untouched_stubs(g, not_about_code=("svm_saved_model_accuracy", "softmax_saved_model_accuracy"))
    assert "not found in your submission" in g.output("svm_saved_model_accuracy")
