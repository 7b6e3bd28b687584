"""How a check is declared.

A check is a function of one argument, the :class:`~grader.runner.Context`, declared with
``@check`` on top of gradescope-utils' decorators so an instructor recognises them (this
example runs as written; a test executes it)::

    from gradescope_utils.autograder_utils.decorators import leaderboard, number, partial_credit, weight

    from grader import compare
    from grader.registry import Part, check

    PART = Part("example_part", "Part 9: an example", files=("example_part.py",))

    @check("add: the sum of two tensors, as the reference computes it", timeout=60)
    @weight(4)
    @number("9.1")
    def add_matches_reference(ctx):
        x = torch.randn(5, generator=ctx.generator("x"))
        with ctx.student() as s:
            got = s.call("add", x, x)
        compare.tensor(got, ctx.reference.add(x, x), what="add(x, x)", name="the sum", rtol=1e-12, atol=0)

    @check("add: accuracy of something trained", depends=("add_matches_reference",))
    @partial_credit(5)
    @leaderboard("accuracy")
    @number("9.2")
    def trained_accuracy(ctx, set_score=None, set_leaderboard_value=None):
        set_score(5.0)
        set_leaderboard_value(0.9)

The decorated function is returned unchanged; ``@check`` records a :class:`Check` in the
registry of the module's ``PART``. gradescope-utils stores values set through
``set_score``/``set_leaderboard_value`` as attributes on whichever wrapper layer created
the setter; the runner reads every layer (see :func:`wrapper_layers`), so stacking
``partial_credit`` on ``leaderboard`` loses nothing.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass(frozen=True)
class Part:
    """One assignment part: the student module it grades and the files it needs."""

    name: str
    title: str
    files: tuple[str, ...]                 # required, e.g. ("linear_classifier.py",)
    artifacts: tuple[str, ...] = ()        # optional data files, e.g. saved models
    module: str = ""                       # importable name of the student module
    notebook: str = ""                     # a notebook that may stand in for the module
    datasets: tuple[str, ...] = ()         # datasets its checks score on, e.g. ("cifar10",)
    # build_artifacts(dest, data_root): writes the artifacts with the reference (the saved models a
    # student's notebook writes), for the demo and the tests; None when the part has no artifacts
    build_artifacts: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.module:
            object.__setattr__(self, "module", self.files[0].removesuffix(".py"))
        if not self.notebook:
            object.__setattr__(self, "notebook", self.module + ".ipynb")


@dataclass
class Check:
    id: str
    part: str
    title: str
    fn: Callable[..., Any]
    weight: float
    number: str
    visibility: str
    public: bool
    timeout: float
    depends: tuple[str, ...]
    partial: bool
    leaderboard: tuple[str, str] | None
    tags: tuple[str, ...] = field(default_factory=tuple)
    after: tuple[str, ...] = ()  # checks that run first, without skipping this one when they fail

    @property
    def key(self) -> str:
        return f"{self.part}.{self.id}"


PARTS: dict[str, Part] = {}
CHECKS: dict[str, list[Check]] = {}


def wrapper_layers(fn: Callable[..., Any]) -> list[Callable[..., Any]]:
    """The function and every function it wraps (via ``__wrapped__``), outermost first."""
    layers: list[Callable[..., Any]] = []
    seen: set[int] = set()
    layer: Callable[..., Any] | None = fn
    while layer is not None and id(layer) not in seen:
        seen.add(id(layer))
        layers.append(layer)
        layer = getattr(layer, "__wrapped__", None)
    return layers


def _attr(fn: Callable[..., Any], name: str, default: Any = None) -> Any:
    for layer in wrapper_layers(fn):
        if name in getattr(layer, "__dict__", {}):
            return layer.__dict__[name]
    return default


CheckRef = str | Callable[..., Any]


def _check_id(ref: CheckRef) -> str:
    """The id a dependency names: a check function (a typo is then a NameError at import) or its name."""
    if isinstance(ref, str):
        return ref
    declared = getattr(ref, "__check__", None)
    return declared.id if isinstance(declared, Check) else str(getattr(ref, "__name__", ref))


def check(title: str, *, depends: tuple[CheckRef, ...] | list[CheckRef] = (),
          after: tuple[CheckRef, ...] | list[CheckRef] = (), timeout: float = 60.0, public: bool | None = None,
          weight: float | None = None, partial: float | None = None,
          number: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a check. ``depends`` names other checks of the same part (the check functions themselves,
    or their names): when one fails, this one is skipped. ``after`` names checks that must only run
    first (a check judging several functions looks up their outcomes through ``Context.per_item(...,
    needs=...)``).

    ``weight`` (all or nothing) or ``partial`` (the most points a check that calls ``set_score`` can
    give) may be declared here instead of with gradescope-utils' ``@weight``/``@partial_credit``;
    the function then carries the same metadata those decorators write. ``number`` overrides
    ``@number``; with neither, the number follows the declaration order: ``P.0.k`` for the k-th
    public check of Part P, ``P.k`` for its k-th hidden one. ``public`` follows the module's folder
    (``grader/public_checks`` ships to students, ``grader/checks`` does not); saying it is optional
    and must agree."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        package = (fn.__module__ or "").split(".")[:2]
        in_public_folder, in_hidden_folder = package == ["grader", "public_checks"], package == ["grader", "checks"]
        if public is not None and (in_public_folder or in_hidden_folder) and public != in_public_folder:
            raise TypeError(f"check {fn.__name__} says public={public}, but {fn.__module__} is in the "
                            f"{'public' if in_public_folder else 'hidden'} checks' folder")
        is_public = in_public_folder if (in_public_folder or in_hidden_folder) else bool(public)
        if weight is not None and partial is not None:
            raise TypeError(f"check {fn.__name__}: declare weight= or partial=, not both")
        if partial is not None:
            from gradescope_utils.autograder_utils.decorators import partial_credit

            fn = partial_credit(partial)(fn)
        elif weight is not None:
            setattr(fn, "__weight__", weight)  # what gradescope-utils' @weight writes
        if number is not None:
            setattr(fn, "__number__", number)  # what gradescope-utils' @number writes
        # partial_credit/leaderboard wrappers are defined in gradescope-utils: their globals are not the
        # check module's, so look for PART through every layer down to the check's own function
        part = next((layer.__globals__["PART"] for layer in reversed(wrapper_layers(fn))
                     if isinstance(getattr(layer, "__globals__", {}).get("PART"), Part)), None)
        if not isinstance(part, Part):
            raise TypeError(f"{fn.__module__} must define PART = Part(...) before declaring checks")
        PARTS.setdefault(part.name, part)
        points = _attr(fn, "__weight__")
        if points is None:
            raise TypeError(f"check {fn.__name__} needs @weight(...) or @partial_credit(...) (or weight= or "
                            "partial= on @check)")
        visibility = _attr(fn, "__visibility__", "visible")
        if visibility not in VISIBILITIES:
            raise ValueError(f"check {fn.__name__}: visibility {visibility!r} is not one of {VISIBILITIES}")
        column = _attr(fn, "__leaderboard_column__")
        # partial_credit's wrapper is the layer whose closure holds the ``set_score`` setter
        gives_part = any("set_score" in getattr(layer, "__code__", _NoCode).co_freevars
                         for layer in wrapper_layers(fn))
        declared = _attr(fn, "__number__")
        c = Check(
            id=fn.__name__, part=part.name, title=title, fn=fn, weight=float(points),
            number=str(declared) if declared is not None else _next_number(part, is_public),
            visibility=visibility, public=is_public, timeout=float(timeout),
            depends=tuple(map(_check_id, depends)), after=tuple(map(_check_id, after)), partial=gives_part,
            leaderboard=(column, _attr(fn, "__leaderboard_sort_order__", "desc")) if column else None,
            tags=tuple(_attr(fn, "__tags__", ()) or ()),
        )
        checks = CHECKS.setdefault(part.name, [])
        if any(other.id == c.id for other in checks):
            raise ValueError(f"duplicate check id {c.id} in part {part.name}")
        clash = next((other for other in checks if c.number and other.number == c.number), None)
        if clash is not None:
            raise ValueError(f"checks {clash.id} and {c.id} of part {part.name} both have number {c.number}")
        checks.append(c)
        setattr(fn, "__check__", c)  # a plain callable declares no such attribute
        return fn

    return register


def part_number(part: Part) -> str:
    """The number the table gives ``part``: the one its title starts with ("Part 4: ..." is 4), or ""."""
    import re

    found = re.match(r"\s*Part\s+(\d+)\b", part.title)
    return found.group(1) if found else ""


def _next_number(part: Part, public: bool) -> str:
    """The first free number after the part's public (``P.0.k``) or hidden (``P.k``) checks so far
    ("" for a part whose title gives it no number: its checks are then unnumbered unless they say)."""
    if not part_number(part):
        return ""
    prefix = f"{part_number(part)}.0." if public else f"{part_number(part)}."
    taken = {c.number for c in CHECKS.get(part.name, [])}
    k = 1
    while f"{prefix}{k}" in taken:
        k += 1
    return f"{prefix}{k}"


def family(title: str, cases: dict[str, float], *, id: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare one check per case from one function of ``(ctx, case)``: a family of checks that differ
    only in what they are about (three activations, say). ``cases`` maps each case to its points;
    ``title`` and ``id`` are formatted with ``{case}``. Every member is an ordinary check (its own id,
    number in declaration order, weight and result); ``options`` are :func:`check`'s (``depends`` and
    ``after`` may be formatted with ``{case}`` too). Returns the function unchanged; its members are
    in ``fn.__family__``, keyed by case."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        members: dict[str, Callable[..., Any]] = {}
        for case, points in cases.items():
            def member(ctx: Any, _case: str = case) -> Any:
                return fn(ctx, _case)

            member.__name__ = member.__qualname__ = id.format(case=case)
            member.__module__ = fn.__module__
            member.__doc__ = fn.__doc__
            formatted: dict[str, Any] = {
                key: (tuple(d.format(case=case) if isinstance(d, str) else d for d in value)
                      if key in ("depends", "after") else value) for key, value in options.items()}
            # fn as the layer below the member: check() finds PART in fn's module through it
            setattr(member, "__wrapped__", fn)
            members[case] = check(title.format(case=case), weight=points, **formatted)(member)
        setattr(fn, "__family__", members)
        return fn

    return register


class _NoCode:
    co_freevars: tuple[str, ...] = ()


CHECK_PACKAGES = ("grader.public_checks", "grader.checks")


def load_checks(parts: list[str] | None = None, *, public_only: bool = False) -> list[Check]:
    """Import the check modules (public, then hidden when present) and return their checks."""
    for package in CHECK_PACKAGES if not public_only else CHECK_PACKAGES[:1]:
        try:
            pkg = importlib.import_module(package)
        except ModuleNotFoundError:
            continue  # the student bundle ships without the hidden checks
        for info in pkgutil.iter_modules(pkg.__path__):
            if parts and not any(info.name == p or info.name.startswith(p + "_") for p in parts):
                continue
            importlib.import_module(f"{package}.{info.name}")
    selected = []
    for name, checks in CHECKS.items():
        if parts and name not in parts:
            continue
        for c in checks:
            if public_only and not c.public:
                continue
            selected.append(c)
    for c in selected:
        known = {other.id for other in CHECKS[c.part]}
        unknown = [d for d in c.depends + c.after if d not in known]
        if unknown:
            raise ValueError(f"check {c.key} depends on {', '.join(unknown)}, which part {c.part} does not declare")
    return sorted(selected, key=lambda c: (number_key(c.number), c.part, c.id))  # Part 1 first, as printed


def number_key(number: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key of a check number as printed ("1.0.5" < "1.2" < "1.10")."""
    out = []
    for piece in number.split("."):
        out.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
    return tuple(out)


class UnknownCheck(ValueError):
    """A ``--check`` (or ``--part``) that names no check; the message lists the valid ones."""


def ordered_parts() -> list[Part]:
    """Every declared part, in the order the table numbers them (Part 1 first)."""
    load_checks(public_only=True)
    numbered = [(number_key(checks[0].number.split(".")[0]), name) for name, checks in CHECKS.items() if checks]
    return [PARTS[name] for _, name in sorted(numbered)]


def resolve_parts(wanted: list[str] | None) -> list[str] | None:
    """Part names for ``--part`` values given as the part's name ("linear_classifier"), its number as the
    table prints it ("1") or "part1". A value that names no part raises :class:`UnknownCheck` listing
    the parts."""
    if not wanted:
        return wanted
    numbers = {CHECKS[p.name][0].number.split(".")[0]: p.name for p in ordered_parts()}
    out: list[str] = []
    unknown: list[str] = []
    for value in wanted:
        key = value.strip().lower().removeprefix("part").strip()
        name = value if value in PARTS else numbers.get(key)
        if name is None:
            unknown.append(value)
        elif name not in out:
            out.append(name)
    if unknown:
        listing = "\n".join(f"  {n:<3} {numbers[n]:<20} {PARTS[numbers[n]].title}" for n in sorted(numbers))
        raise UnknownCheck(f"no part is named {', '.join(map(repr, unknown))}. Valid parts (number, name, title):\n"
                           + listing)
    return out


def select_checks(checks: list[Check], wanted: list[str] | None) -> list[Check]:
    """The checks among ``checks`` named in ``wanted``: by the number the table prints ("1.0.5"), by id
    ("public_svm_grid") or by key ("linear_classifier.public_svm_grid"). A name that
    matches none raises :class:`UnknownCheck` listing every valid number and id."""
    if not wanted:
        return list(checks)
    out, unknown = [], []
    for name in wanted:
        found = [c for c in checks if name in (c.number, c.id, c.key)]
        if not found:
            unknown.append(name)
        out += [c for c in found if c not in out]
    if unknown:
        listing = "\n".join(f"  {c.number:<7} {c.id:<34} {c.title}" for c in checks)
        raise UnknownCheck(f"no check is named {', '.join(map(repr, unknown))}. Valid checks (number, id, title):\n"
                           + listing)
    return [c for c in checks if c in out]
