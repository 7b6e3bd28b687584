"""Static checks of student source (parsed, never executed, in the grader's process)."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Finding:
    function: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.what} (line {self.line}, in {self.function})"


_LOOPS: dict[type[ast.stmt] | type[ast.expr], str] = {
    ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression"}


# Names that run or reach code the source does not show: text executed at run time, modules
# imported by a computed name, the namespaces behind the names. A static check that reads the
# source cannot vouch for a function that uses them, and no loss or activation needs them.
_OPAQUE = ("exec", "eval", "compile", "__import__", "globals", "vars", "__builtins__", "builtins",
           "importlib", "sys.modules", "operator.attrgetter", "operator.methodcaller", ".__dict__", "__dict__",
           ".__getattribute__", "object.__getattribute__", "inspect", "types.ModuleType", "torch._C")


#: Tensor utilities that compute neither a loss nor a gradient: allowed wherever a part refuses
#: ``torch.nn`` for doing the graded work (each part's docstring lists them).
TENSOR_UTILITIES = ("torch.nn.functional.one_hot", "torch.nn.functional.pad", "torch.nn.functional.relu")


def _constant_getattr(node: ast.AST) -> tuple[ast.AST, str] | None:
    """``getattr(obj, "name")`` -> (obj, "name"); anything else -> None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
            and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
        return node.args[0], node.args[1].value
    return None


def _dotted(node: ast.AST) -> str:
    """``a.b.c`` for an attribute chain (``getattr(a, "b")`` counts as ``a.b``); "" for anything else."""
    parts = []
    while True:
        if isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
            continue
        named = _constant_getattr(node)
        if named is None:
            break
        node, attr = named
        parts.append(attr)
    if not isinstance(node, ast.Name):
        return ""
    parts.append(node.id)
    return ".".join(reversed(parts))


def _hides_objects(value: ast.AST) -> bool:
    """Whether a module-level binding holds objects a reader cannot name: an item of a container
    (``tools[0]``), a container of anything but constants (``[torch.autograd]``), or a namespace's
    ``__dict__``. Constants and plain dotted paths (resolved as aliases) are readable."""
    for node in ast.walk(value):
        if isinstance(node, ast.Subscript) and not isinstance(node.value, ast.Constant):
            return True
        if isinstance(node, ast.Attribute) and node.attr in ("__dict__", "__getattribute__"):
            return True
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            elements = list(node.elts) if not isinstance(node, ast.Dict) else list(node.values)
            if any(not isinstance(e, (ast.Constant, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.UnaryOp))
                   for e in elements):
                return True
    return False


# What reaches objects a submission was never given: the grader's own modules (its probes and
# the code that serves the parent's calls run in the student's process), the interpreter's
# registries of every module and object, the frames of its callers, the globals behind any
# function, raw memory. Matched as the tail of a dotted path, so ``torch.sys.modules`` counts
# like ``sys.modules``. No loss, model or training loop needs any of them.
_REACH_PATHS = ("grader", "sys.modules", "sys._getframe", "sys._current_frames", "sys.settrace", "sys.setprofile",
                "sys.meta_path", "sys.path_hooks", "sys.addaudithook", "threading.settrace", "threading.setprofile",
                "gc.get_objects", "gc.get_referrers", "gc.get_referents", "inspect", "ctypes", "importlib.import_module",
                "importlib.__import__", "importlib.util", "builtins", "exec", "eval", "compile", "__import__",
                "globals", "vars", "locals")
_REACH_ATTRIBUTES = ("__globals__", "__subclasses__", "__code__", "__closure__", "__builtins__", "__self__",
                     "__mro__", "__bases__", "__base__", "__loader__", "__spec__", "__dict__", "__getattribute__",
                     "f_globals", "f_locals", "f_back", "f_builtins", "tb_frame", "gi_frame", "cr_frame", "ag_frame")


def reach_message(findings: list[Finding]) -> str:
    """What a student reads when the module reaches outside what it was given (see ``Module.reach``)."""
    listing = "; ".join(str(f) for f in findings[:3])
    return (f"Your code reaches into the grader's own process or the interpreter's internals: {listing}. Code "
            "that does can change what the grader sees of it, so no check of this part gives points while it "
            "is there. Remove it: graded code needs only torch, numpy, the standard library's math and its "
            "own functions.")


def opaque_message(findings: list[Finding]) -> str:
    """What a student reads when a checked function hides code from the static checks."""
    return (f"The grader checks this code by reading it, but it {findings[0]}, which runs or reaches code "
            "that the source does not show (text executed at run time, a name computed at run time). Write "
            "the operations out directly.")


class Module:
    """A student's module source with helpers to inspect its functions."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            self.tree: ast.Module | None = ast.parse(source)
        except (SyntaxError, RecursionError, MemoryError, ValueError):  # nested too deeply counts as unparsable
            self.tree = None
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.aliases: dict[str, str] = {}
        # module-level names bound to what a reader cannot resolve to a path: a container holding
        # objects, an item taken out of one, a namespace's __dict__ (name -> line of the binding)
        self.hidden_bindings: dict[str, int] = {}
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
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                  and _dotted(node.value)):
                # F = torch.nn.functional, ce = getattr(F, "cross_entropy"): module-level names for module paths
                self.aliases[node.targets[0].id] = self._resolve(_dotted(node.value))
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and node.value is not None \
                    and _hides_objects(node.value):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    for name_node in ast.walk(target):
                        if isinstance(name_node, ast.Name):
                            self.hidden_bindings[name_node.id] = node.lineno

    def _resolve(self, dotted: str) -> str:
        head, _, rest = dotted.partition(".")
        full = self.aliases.get(head, head)
        return f"{full}.{rest}" if rest else full

    def reachable(self, name: str) -> list[str]:
        """``name`` and every module-level function it names, transitively: called, passed on as an
        argument or a default (``run(svm_loss_naive, ...)``), or through a module-level alias
        (``IMPL = _helper``): a function a checked one can reach is judged with it."""
        seen: list[str] = []
        stack = [name]
        while stack:
            fn = stack.pop()
            if fn in seen or fn not in self.functions:
                continue
            seen.append(fn)
            for node in ast.walk(self.functions[fn]):
                if isinstance(node, ast.Name):
                    target = node.id if node.id in self.functions else self.aliases.get(node.id, "")
                    if target in self.functions:
                        stack.append(target)
        return seen

    def loops(self, name: str) -> list[Finding]:
        out = []
        for fn in self.reachable(name):
            for node in ast.walk(self.functions[fn]):
                for kind, label in _LOOPS.items():
                    if isinstance(node, kind):
                        out.append(Finding(fn, node.lineno, label))
        return sorted(out, key=lambda f: f.line)

    def calls_matching(self, name: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[Finding]:
        """Uses of names whose resolved dotted path starts with one of ``forbidden``, except the paths
        in ``allowed`` (and what lies below them), e.g. ``torch.nn`` but ``torch.nn.functional.one_hot``."""
        out = []
        for fn in self.reachable(name):
            covered: set[int] = set()  # the inner links of an allowed chain (the `F` of `F.one_hot`)
            for node in ast.walk(self.functions[fn]):  # parents come before their children
                if id(node) in covered:
                    if isinstance(node, ast.Attribute):
                        covered.add(id(node.value))
                    elif isinstance(node, ast.Call) and _constant_getattr(node):
                        covered.update(id(a) for a in node.args[:2])
                    continue
                if isinstance(node, (ast.Attribute, ast.Name)) or (isinstance(node, ast.Call)
                                                                   and _constant_getattr(node)):
                    dotted = _dotted(node)
                    if not dotted:
                        continue
                    full = self._resolve(dotted)
                    if any(full == ok or full.startswith(ok + ".") for ok in allowed):
                        if isinstance(node, ast.Attribute):
                            covered.add(id(node.value))
                        elif isinstance(node, ast.Call):  # getattr(F, "one_hot")
                            covered.update(id(a) for a in node.args[:2])
                        continue
                    for bad in forbidden:
                        if full == bad or full.startswith(bad + ".") or (bad.startswith(".") and
                                                                        full.endswith(bad)):
                            out.append(Finding(fn, node.lineno, f"uses {dotted}"))
                            break
        unique = {(f.function, f.line, f.what): f for f in out}
        return sorted(unique.values(), key=lambda f: f.line)

    def opaque_code(self, name: str) -> list[Finding]:
        """Places where ``name`` (or what it calls) runs code its source does not show: ``exec``,
        ``eval``, ``getattr`` with a computed name, ``globals()``... (see ``_OPAQUE``)."""
        out = self.calls_matching(name, _OPAQUE)
        for fn in self.reachable(name):
            for node in ast.walk(self.functions[fn]):
                if isinstance(node, ast.Name) and node.id in self.hidden_bindings:
                    out.append(Finding(fn, node.lineno, f"uses {node.id}, bound at line {self.hidden_bindings[node.id]} "
                                                         "to an object taken out of a container or a namespace"))
                if (isinstance(node, ast.Call) and self._resolve(_dotted(node.func)) in ("getattr", "builtins.getattr")
                        and not (len(node.args) >= 2 and isinstance(node.args[1], ast.Constant))):
                    out.append(Finding(fn, node.lineno, "uses getattr with a name computed at run time"))
        unique = {(f.function, f.line, f.what): f for f in out}
        return sorted(unique.values(), key=lambda f: f.line)

    def reach(self) -> list[Finding]:
        """Every place, anywhere in the module (top level, functions, classes), that reaches objects the
        submission was never given (``_REACH_PATHS``, ``_REACH_ATTRIBUTES``, ``getattr``/``setattr``
        with a name computed at run time). Imports are resolved wherever they are written."""
        if self.tree is None:
            return []
        aliases = dict(self.aliases)
        owner: dict[int, str] = {}
        for top in self.tree.body:
            label = getattr(top, "name", "") if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                  ast.ClassDef)) else "the module's top level"
            for node in ast.walk(top):
                owner[id(node)] = label or "the module's top level"
                if isinstance(node, ast.Import):
                    for a in node.names:
                        aliases.setdefault(a.asname or a.name.split(".")[0],
                                           a.name if a.asname else a.name.split(".")[0])
                elif isinstance(node, ast.ImportFrom) and node.module:
                    for a in node.names:
                        aliases.setdefault(a.asname or a.name, f"{node.module}.{a.name}")

        def resolve(dotted: str) -> str:
            head, _, rest = dotted.partition(".")
            full = aliases.get(head, head)
            return f"{full}.{rest}" if rest else full

        def reaches(path: str) -> str:
            parts = path.split(".")
            for i in range(len(parts)):
                tail = ".".join(parts[i:])
                for bad in _REACH_PATHS:
                    # a bare name (exec, inspect) only where the path starts with it: not model.eval
                    if (i == 0 or "." in bad) and (tail == bad or tail.startswith(bad + ".")):
                        return bad
            for part in parts[1:]:
                if part in _REACH_ATTRIBUTES:
                    return part
            return ""

        out: list[Finding] = []
        for node in ast.walk(self.tree):
            where = owner.get(id(node), "the module's top level")
            if isinstance(node, ast.Import):
                for a in node.names:
                    if reaches(a.name) == "grader":
                        out.append(Finding(where, node.lineno, f"imports {a.name}"))
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    full = f"{node.module or ''}.{a.name}".lstrip(".")
                    if reaches(full):
                        out.append(Finding(where, node.lineno, f"imports {full}"))
            elif isinstance(node, ast.Attribute) and node.attr in _REACH_ATTRIBUTES:
                out.append(Finding(where, node.lineno, f"uses .{node.attr}"))
            elif isinstance(node, ast.Name):
                bad = reaches(resolve(node.id))
                if bad and bad not in _REACH_ATTRIBUTES and (node.id in aliases or bad == node.id):
                    out.append(Finding(where, node.lineno, f"uses {resolve(node.id)}"))
            if isinstance(node, ast.Attribute) or (isinstance(node, ast.Call) and _constant_getattr(node)):
                dotted = _dotted(node)
                if dotted:
                    full = resolve(dotted)
                    bad = reaches(full)
                    if bad and bad not in _REACH_ATTRIBUTES:
                        out.append(Finding(where, node.lineno, f"uses {dotted}"))
                    elif isinstance(node, ast.Call):
                        attr = node.args[1].value if isinstance(node.args[1], ast.Constant) else ""
                        if attr in _REACH_ATTRIBUTES:
                            out.append(Finding(where, node.lineno, f"uses getattr(..., {attr!r})"))
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "setattr", "delattr", "hasattr")
                    and not (len(node.args) >= 2 and isinstance(node.args[1], ast.Constant))):
                out.append(Finding(where, node.lineno, f"uses {node.func.id} with a name computed at run time"))
        # one finding per line, the longest chain (``ctypes.c_int64.from_address``, not also ``ctypes``)
        per_line: dict[int, Finding] = {}
        for f in out:
            if f.line not in per_line or len(f.what) > len(per_line[f.line].what):
                per_line[f.line] = f
        return [per_line[line] for line in sorted(per_line)]


def inspected(ctx: Any, what: str) -> "Module":
    """The student's module of the check's part, parsed for a static check of ``what`` (a function's
    name, say); one wording for every part when it cannot be parsed."""
    from grader.errors import CheckFailed

    name = f"{ctx.part.module}.py"
    module = Module((ctx.files.code_dir / name).read_text())
    if module.tree is None:
        raise CheckFailed(f"{name} has a syntax error, so {what} cannot be inspected. Fix the syntax error first "
                          "(the other checks show where it is).")
    return module


LISTED = 5  # findings listed in a failure; more are counted


def require_own_code(module: "Module", name: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = (), *,
                     rule: str, instead: str, answers_for: Any = None) -> None:
    """Fail unless ``name`` (and the functions it reaches) uses none of ``forbidden`` (except what lies
    in ``allowed``) and hides no code from reading; one wording for every part: the function, the
    ``rule`` it breaks, every use found (up to LISTED, with their lines) and what to do ``instead``.
    ``answers_for(finding)``, when given, keeps only the findings this function answers for (not
    those inside another function judged on its own)."""
    from grader.errors import CheckFailed

    def own(findings: list[Finding]) -> list[Finding]:
        return [f for f in dict.fromkeys(findings) if answers_for is None or answers_for(f)]

    found = own(module.calls_matching(name, forbidden, allowed))
    if found:
        listing = "; ".join(str(f) for f in found[:LISTED])
        more = f"; and {len(found) - LISTED} more" if len(found) > LISTED else ""
        raise CheckFailed(f"{name} {rule}, but it {listing}{more}. {instead}")
    hidden = own(module.opaque_code(name))
    if hidden:
        raise CheckFailed(f"{name}: " + opaque_message(hidden))
