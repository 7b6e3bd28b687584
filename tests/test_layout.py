"""The package's shape: one module owns the paths, and no module imports another in a circle."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "grader"


def module_imports() -> dict[str, set[str]]:
    """grader module -> the grader modules it imports at import time (top level, not inside functions)."""
    names = {".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
             for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        found: set[str] = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {m for m in found if m in names and m != name and m != "grader"}
    return graph


def test_no_module_of_the_grader_imports_another_in_a_circle():
    graph = module_imports()
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert not cycles, cycles
    assert graph, "no module found"


def test_one_module_owns_the_paths():
    """Only grader/layout.py computes the package's place on disk from a module's own __file__."""
    computing = sorted(p.name for p in PACKAGE.rglob("*.py")
                       if "__file__).resolve().parents" in p.read_text() and p.name != "layout.py")
    assert computing == [], computing
    assert "grader.layout" in module_imports()["grader.runner"]
