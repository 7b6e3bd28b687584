"""Static checks of student source (parsed, never executed, in the grader's process)."""
from __future__ import annotations

import ast
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    function: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.what} (line {self.line}, in {self.function})"


_LOOPS = {ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
          ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
          ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


class Module:
    """A student's module source with helpers to inspect its functions."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except SyntaxError:
            self.tree = None
        self.functions: dict[str, ast.FunctionDef] = {}
        self.aliases: dict[str, str] = {}
        if self.tree is None:
            return
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions[node.name] = node  # the last definition wins, like at run time
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.functions[f"{node.name}.{item.name}"] = item
            elif isinstance(node, ast.Import):
                for a in node.names:
                    self.aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    def reachable(self, name: str) -> list[str]:
        """``name`` and every module-level function it calls, transitively."""
        seen: list[str] = []
        stack = [name]
        while stack:
            fn = stack.pop()
            if fn in seen or fn not in self.functions:
                continue
            seen.append(fn)
            for node in ast.walk(self.functions[fn]):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
                    stack.append(node.func.id)
        return seen

    def loops(self, name: str) -> list[Finding]:
        out = []
        for fn in self.reachable(name):
            for node in ast.walk(self.functions[fn]):
                for kind, label in _LOOPS.items():
                    if isinstance(node, kind):
                        out.append(Finding(fn, node.lineno, label))
        return sorted(out, key=lambda f: f.line)

    def calls_matching(self, name: str, forbidden: tuple[str, ...]) -> list[Finding]:
        """Uses of names whose resolved dotted path starts with one of ``forbidden``."""
        out = []
        for fn in self.reachable(name):
            for node in ast.walk(self.functions[fn]):
                if isinstance(node, (ast.Attribute, ast.Name)):
                    dotted = _dotted(node)
                    if not dotted:
                        continue
                    full = self._resolve(dotted)
                    for bad in forbidden:
                        if full == bad or full.startswith(bad + ".") or (bad.startswith(".") and
                                                                        full.endswith(bad)):
                            out.append(Finding(fn, node.lineno, f"uses {dotted}"))
                            break
        unique = {(f.function, f.line, f.what): f for f in out}
        return sorted(unique.values(), key=lambda f: f.line)
