"""A tiny assignment part ("toy") whose checks exercise every path of the registry and runner.

Imported by the tests only (never by the grader's check packages). The student module it
grades is ``toy_student.py``; :data:`STUDENT_SOURCE` is a correct one, written into a temporary
submission folder by the tests. ``CONTROL`` lets a test change what a check does between runs.
"""
from __future__ import annotations

import time

from gradescope_utils.autograder_utils.decorators import leaderboard, number, partial_credit, visibility, weight

from grader.errors import CheckFailed
from grader.registry import Part, check

PART = Part("toy", "Toy part", files=("toy_student.py",))

STUDENT_SOURCE = '''\
def add(a, b):
    return a + b


def square(x):
    return x * x if x != 3 else 10   # wrong for one input only


def boom():
    raise ValueError("student bug in boom")
'''

CONTROL = {"set_score": True, "sleep": 0.0, "setup_calls": 0}


def _broken_setup():
    CONTROL["setup_calls"] += 1
    raise RuntimeError("shared setup exploded")


@check("add() adds two numbers")
@weight(1)
@number("9.1")
def toy_passes(ctx):
    got = ctx.student().call("add", 2, 3)
    if got != 5:
        raise CheckFailed(f"add(2, 3) returned {got!r}, expected 5.")


@check("square() on several inputs (sub-assertions)")
@weight(3)
@number("9.2")
def toy_subtests(ctx):
    student = ctx.student()
    for x in range(6):  # like unittest's subTest: one failing case ends the check with one result
        got = student.call("square", x)
        if got != x * x:
            raise CheckFailed(f"square({x}) returned {got!r}, expected {x * x}.")


@check("boom() returns without raising")
@weight(2)
@number("9.3")
def toy_student_error(ctx):
    ctx.student().call("boom")


@check("builds on boom()", depends=("toy_student_error",))
@weight(2)
@number("9.4")
def toy_depends_on_failure(ctx):
    ctx.student().call("add", 1, 1)


@check("a check with a bug in the grader")
@weight(2)
@number("9.5")
def toy_grader_bug(ctx):
    return {}["missing key"]


@check("first user of a broken shared setup")
@weight(1)
@number("9.6")
def toy_setup_a(ctx):
    ctx.shared("toy:broken", _broken_setup)


@check("second user of a broken shared setup")
@weight(1)
@number("9.7")
def toy_setup_b(ctx):
    ctx.shared("toy:broken", _broken_setup)


@check("partial credit stacked on a leaderboard")
@partial_credit(10)
@leaderboard("acc")
def toy_partial_over_leaderboard(ctx, set_score=None, set_leaderboard_value=None):
    set_leaderboard_value(0.75)
    set_score(4)


@check("leaderboard stacked on partial credit")
@leaderboard("acc2", "asc")
@partial_credit(10)
def toy_leaderboard_over_partial(ctx, set_score=None, set_leaderboard_value=None):
    set_score(6)
    set_leaderboard_value(0.5)


@check("a plain leaderboard check")
@weight(2)
@leaderboard("speed", "asc")
@number("9.8")
def toy_leaderboard(ctx, set_leaderboard_value=None):
    set_leaderboard_value(1.5)


@check("partial credit that may be set only on some runs")
@partial_credit(10)
@number("9.9")
def toy_maybe_score(ctx, set_score=None):
    if CONTROL["set_score"]:
        set_score(7)
        return
    raise CheckFailed("failed before any score was set")


@check("a hidden check that sleeps in the grader", timeout=30)
@weight(1)
@visibility("hidden")
@number("9.10")
def toy_slow(ctx):
    time.sleep(CONTROL["sleep"])


@check("partial credit with a score that is not a number")
@partial_credit(5)
@number("9.11")
def toy_nan_score(ctx, set_score=None):
    set_score(float("nan"))


@check("a leaderboard value that is infinite")
@weight(1)
@leaderboard("inf")
@number("9.12")
def toy_inf_leaderboard(ctx, set_leaderboard_value=None):
    set_leaderboard_value(float("inf"))


@check("square() judged per input: partial credit", after=("toy_student_error",))
@weight(4)
@number("9.13")
def toy_per_item(ctx):
    student = ctx.student()

    def judge(item: str) -> None:
        x = int(item.removeprefix("x="))
        got = student.call("square", x)
        if got != x * x:
            raise CheckFailed(f"square({x}) returned {got!r}, expected {x * x}.")

    # x=3 is wrong in the toy student; x=5 builds on boom(), which fails
    ctx.per_item(("x=1", "x=2", "x=3", "x=5"), judge, needs={"x=5": ("toy_student_error",)})


@check("every item builds on a failed check", after=("toy_student_error",))
@weight(2)
@number("9.14")
def toy_per_item_all_blocked(ctx):
    ctx.per_item(("a", "b"), lambda item: None, needs={"a": ("toy_student_error",), "b": ("toy_student_error",)})


@check("per_item with a prerequisite it did not declare (a grader bug)")
@weight(1)
@number("9.15")
def toy_per_item_undeclared(ctx):
    ctx.per_item(("a",), lambda item: None, needs={"a": ("toy_student_error",)})
