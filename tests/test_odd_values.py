"""Whatever a student's function returns, no check is the grader's error.

Every function a part's students write is replaced, in the reference, by one that returns an odd
value (None, a string, NaN, ragged lists, a dict, a tuple of the wrong length, empty and 0-d
tensors, an object whose attributes lie and whose conversions raise), the values rotated over the
functions so that each variant reaches other checks. Each check must then fail (or be skipped)
with a message for the student; none may end in ``error``, and results.json stays valid.
"""
from __future__ import annotations

import ast

import pytest

from conftest import ASSIGNMENT, reference_source

PARTS = ("linear_classifier", "metric_learning", "neural_net", "binary_svm")

ODD_VALUES = '''
import torch as _torch


class _Lies:
    shape = ("x",)
    dtype = "float"
    requires_grad = True

    def __len__(self):
        raise RuntimeError("len")

    def __iter__(self):
        raise RuntimeError("iter")

    def __float__(self):
        raise RuntimeError("float")


_ODD = [None, "x", float("nan"), [[1, 2], 3], {"a": 1}, (1, 2, 3), _torch.zeros(0), _torch.tensor(7), _Lies()]
'''


def student_functions(part: str) -> list[str]:
    """The top-level functions of the stub that students write (those that raise NotImplementedError)."""
    tree = ast.parse((ASSIGNMENT / f"{part}.py").read_text())
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef)
            and any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in ast.walk(node))]


def odd_submission(part: str, offset: int) -> str:
    lines = [reference_source(part), ODD_VALUES]
    for i, name in enumerate(student_functions(part)):
        lines.append(f"\n\ndef {name}(*args, **kwargs):\n    return _ODD[{(i + offset) % 9}]\n")
    return "\n".join(lines)


@pytest.mark.parametrize("offset", [0, 4])
@pytest.mark.parametrize("part", PARTS)
def test_odd_return_values_are_the_students_failures_never_grader_errors(part, offset, grade, reference_models):
    assert len(student_functions(part)) >= 3, part
    files = {f"{part}.py": odd_submission(part, offset)}
    if part == "linear_classifier":
        files.update(reference_models)
    g = grade(files, parts=[part])  # results.json is validated against its schema on the way
    outcomes = g.outcomes()
    errors = {k: g.output(k) for k, v in outcomes.items() if v == "error"}
    assert not errors, errors
    assert g.score < sum(t["max_score"] for t in g.doc["tests"])
    for check_id, outcome in outcomes.items():
        if outcome == "failed":
            assert g.output(check_id).strip(), check_id  # a message for the student
