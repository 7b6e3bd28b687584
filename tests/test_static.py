"""The static checks' reading of student source: loops, forbidden names, code hidden from them."""
from __future__ import annotations

import textwrap

from grader.static import Module, opaque_message

SOURCE = textwrap.dedent('''
    import torch
    import torch.nn.functional as Fn
    F = torch.nn.functional
    ce = getattr(F, "cross_entropy")
    g = getattr

    def runs_text(x):
        exec("for i in range(3): pass")

    def module_alias(x):
        return F.relu(x)

    def alias_of_getattr_result(x):
        return ce(x)

    def computed_getattr(x, name):
        return getattr(torch, name)(x)

    def constant_getattr(x):
        return getattr(torch.nn, "functional").relu(x)

    def aliased_getattr(x):
        return g(torch, "n" + "n")

    def namespace(x):
        return globals()["torch"]

    def helper(x):
        return eval("x")

    def calls_helper(x):
        return helper(x) + 1

    def honest(W, X):
        scores = X.mm(W)
        rows = torch.arange(X.shape[0], device=X.device)
        return scores.clamp(min=0), getattr(X, "shape"), scores[rows]
''')
NN = ("torch.nn", "torch.autograd")


def whats(findings) -> list[str]:
    return [f.what for f in findings]


def test_module_level_names_for_module_paths_are_resolved():
    m = Module(SOURCE)
    assert "uses F.relu" in whats(m.calls_matching("module_alias", NN))
    assert whats(m.calls_matching("alias_of_getattr_result", NN)) == ["uses ce"]
    assert "uses torch.nn.functional.relu" in whats(m.calls_matching("constant_getattr", NN))
    assert m.opaque_code("module_alias") == [] and m.opaque_code("constant_getattr") == []


def test_code_the_source_does_not_show_is_found():
    m = Module(SOURCE)
    assert whats(m.opaque_code("runs_text")) == ["uses exec"]
    assert whats(m.opaque_code("computed_getattr")) == ["uses getattr with a name computed at run time"]
    assert whats(m.opaque_code("aliased_getattr")) == ["uses getattr with a name computed at run time"]
    assert whats(m.opaque_code("namespace")) == ["uses globals"]
    found = m.opaque_code("calls_helper")  # through a helper it calls
    assert [(f.function, f.what) for f in found] == [("helper", "uses eval")]
    message = opaque_message(found)
    assert "uses eval (line" in message and "in helper" in message and "does not show" in message


def test_honest_code_has_no_findings():
    m = Module(SOURCE)
    assert m.opaque_code("honest") == [] and m.calls_matching("honest", NN) == [] and m.loops("honest") == []
    assert [f.what for f in m.loops("runs_text")] == []  # the loop is in a string: hence opaque_code


def test_tensor_utilities_are_allowed_where_torch_nn_is_refused():
    """one_hot (in any spelling) is a tensor utility; a loss function beside it is still found, and an
    alias of the namespace itself is not excused by an allowed name below it."""
    from grader.checks.binary_svm import ALLOWED as PART4_ALLOWED, FORBIDDEN as PART4_FORBIDDEN
    from grader.checks.linear_classifier import ALLOWED, FORBIDDEN

    m = Module(textwrap.dedent('''
        import torch
        import torch.nn.functional as F
        from torch.nn.functional import one_hot

        def masks(y, C):
            return F.one_hot(y, C) + torch.nn.functional.one_hot(y, C) + one_hot(y, C) + getattr(F, "one_hot")(y)

        def loss(s, y):
            return F.one_hot(y, 3).sum() + F.cross_entropy(s, y)

        def through_a_local(s, y):
            g = F
            return g.cross_entropy(s, y)
    '''))
    for forbidden, allowed in ((FORBIDDEN, ALLOWED), (PART4_FORBIDDEN, PART4_ALLOWED)):
        assert m.calls_matching("masks", forbidden, allowed) == []
        assert [f.what for f in m.calls_matching("loss", forbidden, allowed)][:1] == ["uses F.cross_entropy"]
        assert [f.what for f in m.calls_matching("through_a_local", forbidden, allowed)] == ["uses F"]


def test_switching_autograd_back_on_is_named():
    """Part 1 calls the losses with autograd off; the ways back on are named by the static check."""
    from grader.checks.linear_classifier import ALLOWED, FORBIDDEN

    m = Module(textwrap.dedent('''
        import torch

        def public_switch(W):
            with torch.set_grad_enabled(True):
                return W

        def private_switch(W):
            torch._C._set_grad_enabled(True)
            return W
    '''))
    assert [f.what for f in m.calls_matching("public_switch", FORBIDDEN, ALLOWED)] == ["uses torch.set_grad_enabled"]
    assert any("torch._C" in f.what for f in m.opaque_code("private_switch"))
