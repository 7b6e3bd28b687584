"""Runs checks and turns every outcome into a :class:`~grader.results.CheckResult`; never raises.

Outcomes: a check that returns normally *passed*; one that raises ``CheckFailed`` or a
``StudentCodeError`` *failed*; any other exception is a grader *error* (traceback kept
for staff only); a check whose dependency did not pass, or that cannot start inside
the time budget, is *skipped*.
"""
from __future__ import annotations

import ctypes
import functools
import gc
import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, cast

import torch

from grader import static
from grader.layout import DEVICES, solutions_dir
from grader.errors import (CheckFailed, CheckSkipped, DataNotFoundError, PartlyFailed, SandboxUnavailable,
                           StudentCodeError)
from grader.registry import PARTS, Check, Part, wrapper_layers
from grader.results import CheckResult, Outcome, RunResult
from grader.sandbox import Limits, Sandbox, StudentSession, Zygote
from grader.submission import PartFiles

DEFAULT_BUDGET = 540.0  # seconds: Gradescope stops the whole run at 600 by default


_REFERENCES: dict[str, Any] = {}


def load_reference(module: str) -> Any:
    """The reference solution module (trusted; imported into the grader's own process)."""
    if module not in _REFERENCES:
        path = solutions_dir() / f"{module}.py"
        if not path.is_file():
            raise FileNotFoundError(f"reference solution {path} is missing from the autograder")
        spec = importlib.util.spec_from_file_location(f"_reference_{module}", path)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
        _REFERENCES[module] = mod
    return _REFERENCES[module]


@dataclass
class GradingOptions:
    data_root: Path | None = None
    budget: float = DEFAULT_BUDGET
    base_seed: int = 498
    limits: Limits = field(default_factory=Limits)
    progress: Callable[[str], None] | None = None
    device: str = "auto"  # "auto": a CUDA GPU when one is present, else the CPU; or "cpu", "cuda"



@functools.lru_cache(maxsize=None)
def grading_device(choice: str = "auto") -> torch.device:
    """The device the grader computes on (accuracy of saved models, GPU timings).

    ``auto`` picks a CUDA GPU when one is present. Asking for ``cuda`` where there is none is an
    error of the set-up, said in words. Decided once per process: every check computes on the
    same device, and the question is not asked again for each one.
    """
    if choice not in DEVICES:
        raise ValueError(f"unknown device {choice!r}: choose one of {', '.join(DEVICES)}")
    # asked through NVML, so that this process does not start CUDA (which a fork cannot inherit)
    os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    available = torch.cuda.is_available()
    if choice == "cuda" and not available:
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU on this machine "
                         "(torch.cuda.is_available() is False)")
    return torch.device("cuda" if choice == "cuda" or (choice == "auto" and available) else "cpu")


class Context:
    """What a check body sees: the student's code (sandboxed), the reference, data, seeds."""

    def __init__(self, check: Check, part: Part, files: PartFiles, sandbox: Sandbox | None,
                 options: GradingOptions, deadline: float, shared: dict[str, Any],
                 results: Mapping[str, CheckResult] | None = None) -> None:
        self.check = check
        self._results = results if results is not None else {}
        self.part = part
        self.files = files
        self._sandbox = sandbox
        self.options = options
        self.deadline = deadline
        self._stack = ExitStack()
        self._sessions: list[StudentSession] = []
        self._shared = shared
        self.notes: list[str] = []
        self.device = grading_device(options.device)

    @property
    def accelerator(self) -> torch.device | None:
        """The GPU the grader computes on, or None on a CPU-only run."""
        return self.device if self.device.type != "cpu" else None

    # student code ------------------------------------------------------------------
    def student(self, *, seed: int = 0, gpu: bool = False) -> StudentSession:
        """A fresh sandboxed process with the student's module imported (closed after the check).

        ``gpu=True``: the process may use CUDA (its memory limit bounds private data instead of
        address space; see :class:`grader.sandbox.Limits`). Ask for it only when ``self.device``
        is a GPU and the check puts work there.
        """
        if self._sandbox is None:
            raise CheckFailed(self.files.problem or f"{self.part.module}.py is not available.")
        limits = replace(self._sandbox.limits, gpu=True) if gpu else None
        s = self._sandbox.session(self.part.module, seed=seed, limits=limits)
        s.deadline = self.deadline
        self._sessions.append(s)
        return s

    def calibration(self, *, seed: int = 0) -> StudentSession:
        """A sandboxed process like the student's (same limits, user and start-up) in which no student
        code is imported: for timing the grader's own workload under the conditions the student's code
        is timed in (see ``grader.probes``), instead of in the grader's process, whose state (caches,
        thread pools, what ran before) moves such figures."""
        if self._sandbox is None:
            raise CheckFailed(self.files.problem or f"{self.part.module}.py is not available.")
        s = self._sandbox.session("", seed=seed)
        s.deadline = self.deadline
        self._sessions.append(s)
        return s

    def student_on_accelerator(self, *, instead: str, seed: int = 0) -> tuple[StudentSession, torch.device]:
        """A session for work that goes to the grader's GPU, and the device to send it to.

        Without a GPU: a plain session and the CPU. With one: a session that may use CUDA, in
        which CUDA has been started; where it cannot start in the sandbox (a driver that refuses
        the limits, say), a note says why and what happens ``instead``, and the work falls back
        to a plain session on the CPU: a grading machine's trouble never costs the student points.
        """
        if self.accelerator is None:
            return self.student(seed=seed), torch.device("cpu")
        s = self.student(seed=seed, gpu=True)
        try:
            placed = s.stage("device check", torch.zeros(1), device=str(self.accelerator),
                             timeout=self.timeout(60))
        except StudentCodeError as exc:
            s.close()
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            self.note(f"The GPU could not be used in the sandbox ({reason}); {instead}.")
            return self.student(seed=seed), torch.device("cpu")
        return s, torch.device(placed)

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def timeout(self, wanted: float) -> float:
        """A per-call timeout that never runs past the check's own deadline."""
        return max(1.0, min(wanted, self.remaining()))

    @property
    def output(self) -> str:
        return "\n".join(s.output for s in self._sessions if s.output.strip())

    # reference and data -----------------------------------------------------------
    @property
    def reference(self) -> Any:
        return load_reference(self.part.module)

    def generator(self, tag: str) -> torch.Generator:
        """A torch.Generator seeded from the hidden base seed, the check and ``tag``."""
        return _seeded(f"{self.options.base_seed}/{self.check.key}/{tag}")

    def part_generator(self, tag: str) -> torch.Generator:
        """A torch.Generator seeded from the hidden base seed, the part and ``tag``: the same for every
        check of the part (the data subset that several accuracy checks share, say)."""
        return _seeded(f"{self.options.base_seed}/{self.part.name}/{tag}")

    def shared(self, key: str, make: Callable[[], Any]) -> Any:
        """A value computed once and reused by the checks of this part (e.g. a trained model,
        a preprocessed subset); freed when the run moves on to the next part. Keys starting
        with ``data:`` (loaded datasets, memory-mapped) live for the whole run."""
        if not key.startswith("data:"):
            key = f"{self.part.name}:{key}"
        if key not in self._shared:
            try:
                self._shared[key] = make()
            except Exception as exc:  # remembered: every check that needs it fails the same way, once
                self._shared[key] = _SharedFailure(exc)
                raise
        value = self._shared[key]
        if isinstance(value, _SharedFailure):
            raise value.exc
        return value

    def data(self, dataset: str = "cifar10") -> Any:
        """Raw uint8 splits of ``dataset`` (see grader.data), loaded once per run."""
        from grader import data

        asked = self._shared.setdefault("run:datasets", [])  # kept for the whole run (not a part's key)
        if dataset not in asked:
            asked.append(dataset)
        return self.shared(f"data:{dataset}", lambda: data.load(dataset, self.options.data_root))

    def artifact(self, name: str) -> Path:
        if name in self.files.artifacts:
            return self.files.artifacts[name]
        raise CheckFailed(self.files.artifact_problems.get(name, f"{name} was not submitted."))

    def note(self, text: str) -> None:
        """A line shown to the student even when the check passes (e.g. a measured figure)."""
        self.notes.append(text)

    # checks over several functions ----------------------------------------------------
    def outcome_of(self, check_id: str) -> Outcome | None:
        """The outcome of another check of this part in this run, or None when it was not run."""
        res = self._results.get(f"{self.part.name}.{check_id}")
        return res.outcome if res is not None else None

    def per_item(self, items: Iterable[str], body: Callable[[str], None], *,
                 needs: Mapping[str, Sequence[str]] | None = None) -> None:
        """Judge each item (a function, a pair of functions, a case) on its own.

        Every item is run even when an earlier one fails, so one mistake never hides the verdict on
        the others; the check earns its weight times the share of items that pass, and its message
        lists every failure. ``needs`` maps an item to checks it builds on: when one of them did not
        pass, the item is not judged (it earns nothing, and the message says what to fix first).
        When no item could be judged the check is skipped. Raises :class:`PartlyFailed` or
        :class:`CheckSkipped`; returns when every item passes.
        """
        items = list(items)
        undeclared = {d for ds in (needs or {}).values() for d in ds} - set(self.check.after + self.check.depends)
        if undeclared:  # a grader bug: their outcomes might not be known yet when this check runs
            raise ValueError(f"check {self.check.id} needs {sorted(undeclared)}; declare them in @check(after=...)")
        verdicts: dict[str, str] = {}
        messages: list[str] = []
        for item in items:
            blocked = [d for d in (needs or {}).get(item, ())
                       if self.outcome_of(d) not in (None, Outcome.PASSED)]
            if blocked:
                titles = ", ".join(f"'{self._results[f'{self.part.name}.{d}'].title}'" for d in blocked)
                verdicts[item] = "skipped"
                messages.append(f"{item}: not judged; fix {titles} first (this builds on it).")
                continue
            try:
                body(item)
            except (CheckFailed, StudentCodeError) as exc:
                verdicts[item] = "failed"
                text = str(exc)
                messages.append(text if text.startswith(item) else f"{item}: {text}")
            else:
                verdicts[item] = "passed"
        if all(v == "passed" for v in verdicts.values()):
            return
        if all(v == "skipped" for v in verdicts.values()):
            raise CheckSkipped("Not run: " + " ".join(messages), items=verdicts)
        passed = sum(v == "passed" for v in verdicts.values())
        header = f"{passed} of {len(items)} judged here pass; each earns its share of the points." if passed else ""
        raise PartlyFailed("\n".join(([header] if header else []) + messages), fraction=passed / len(items),
                           items=verdicts)

    def close(self) -> None:
        for s in self._sessions:
            s.close()
        self._stack.close()


@dataclass
class _SharedFailure:
    exc: Exception


def _reset_wrapper_state(fn: Callable[..., Any]) -> None:
    for layer in wrapper_layers(fn):
        for name in ("__score__", "__leaderboard_value__"):
            layer.__dict__.pop(name, None)


def _wrapper_value(fn: Callable[..., Any], name: str) -> Any:
    for layer in wrapper_layers(fn):
        if name in layer.__dict__:
            return layer.__dict__[name]
    return None


def _seeded(text: str) -> torch.Generator:
    digest = hashlib.sha256(text.encode()).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return g


def run_check(check: Check, ctx: Context) -> CheckResult:
    start = time.monotonic()
    result = CheckResult(key=check.key, title=check.title, number=check.number, max_score=check.weight,
                         score=0.0, outcome=Outcome.FAILED, visibility=check.visibility, tags=check.tags)
    _reset_wrapper_state(check.fn)
    try:
        check.fn(ctx)
        result.outcome = Outcome.PASSED
        result.score = check.weight
        result.message = "Passed."
    except PartlyFailed as exc:
        result.outcome = Outcome.FAILED
        result.message = str(exc)
        result.items = dict(exc.items)
        result.score = round(check.weight * min(max(exc.fraction, 0.0), 1.0), 4)
    except (CheckFailed, StudentCodeError) as exc:
        result.outcome = Outcome.FAILED
        result.message = str(exc)
    except CheckSkipped as exc:
        result.outcome = Outcome.SKIPPED
        result.message = str(exc)
        result.items = dict(exc.items)
    except DataNotFoundError as exc:
        result.outcome = Outcome.ERROR
        result.message = ("This check needs a dataset the autograder could not find; it is not your fault and "
                          "the course staff have been told.")
        result.staff_message = str(exc)
    except SandboxUnavailable as exc:
        result.outcome = Outcome.ERROR
        result.message = "The autograder could not run your code safely; this is not your fault."
        result.staff_message = str(exc)
    except Exception:  # noqa: BLE001 - any other exception is the grader's fault
        result.outcome = Outcome.ERROR
        result.message = ("The grader failed while running this check. This is not a problem with your code; the "
                          "course staff can see the details.")
        result.staff_message = traceback.format_exc()
    finally:
        result.student_output = ctx.output
        ctx.close()
    if check.partial and result.outcome in (Outcome.PASSED, Outcome.FAILED):
        value = _wrapper_value(check.fn, "__score__")
        if value is not None:
            try:
                score = float(value)
            except (TypeError, ValueError):
                score = 0.0
            # a NaN would make the run's total NaN, which the writer turns into 0 for every check
            result.score = min(max(score, 0.0), check.weight) if math.isfinite(score) else 0.0
            if result.outcome == Outcome.PASSED and result.score < check.weight:
                result.message = "Partial credit." if result.message == "Passed." else result.message
    if result.score > 0 or result.outcome == Outcome.PASSED:
        reach = _reach(ctx)
        if reach:  # what the check saw (values, reports, even the source's meaning) cannot be trusted
            result.outcome, result.score, result.items = Outcome.FAILED, 0.0, {}
            result.message = static.reach_message(reach)
            ctx.notes.clear()
    if ctx.notes:
        result.message = (result.message + "\n" + "\n".join(ctx.notes)).strip()
    if check.leaderboard is not None:
        value = _wrapper_value(check.fn, "__leaderboard_value__")
        column, order = check.leaderboard
        entry_value = _leaderboard_value(value)
        if entry_value is not None:
            result.leaderboard = {"name": column, "value": entry_value, "order": order}
    result.seconds = time.monotonic() - start
    return result


def _reach(ctx: Context) -> list[static.Finding]:
    """Places where the part's files reach into the grader's process or the interpreter's internals
    (``static.Module.reach``), read once per part. Such code runs beside the grader's probes in the
    child and can rewrite them, so no check of the part gives points while it is there."""
    def scan() -> list[static.Finding]:
        found: list[static.Finding] = []
        for name in ctx.part.files:
            path = ctx.files.code_dir / name
            if name.endswith(".py") and path.is_file():
                try:
                    found += static.Module(path.read_text(encoding="utf-8", errors="replace")).reach()
                except OSError:
                    continue
        return found

    return cast("list[static.Finding]", ctx.shared("static:reach", scan))


def _leaderboard_value(value: Any) -> float | str | None:
    """A value Gradescope accepts (finite number or text), or None; numpy/torch scalars included."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError, RuntimeError):
        return None
    return number if math.isfinite(number) else None


def _dependency_order(checks: list[Check]) -> list[Check]:
    """``checks`` in their given order, except that a selected dependency always runs before its dependents."""
    pending = list(checks)
    keys = {c.key for c in checks}
    done: set[str] = set()
    ordered: list[Check] = []
    while pending:
        for i, c in enumerate(pending):
            if all(f"{c.part}.{d}" in done or f"{c.part}.{d}" not in keys for d in c.depends + c.after):
                break
        else:  # a dependency cycle: run the rest as given (the registry rejects cycles it can see)
            i = 0
        c = pending.pop(i)
        done.add(c.key)
        ordered.append(c)
    return ordered


def _release_part(shared: dict[str, Any], part: str) -> None:
    """Drop what a finished part computed and hand the memory back to the system: the next
    part's sandboxed children share Gradescope's 768 MB with this process."""
    for key in [k for k in shared if k.startswith(part + ":")]:
        del shared[key]
    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):  # not glibc; Windows has no CDLL(None) at all
        pass


def _skip(check: Check, message: str) -> CheckResult:
    return CheckResult(key=check.key, title=check.title, number=check.number, max_score=check.weight,
                       score=0.0, outcome=Outcome.SKIPPED, message=message, visibility=check.visibility,
                       tags=check.tags)


def run(checks: list[Check], files: dict[str, PartFiles], options: GradingOptions,
        hidden_paths: Sequence[Path] = (), zygote: Zygote | None = None) -> RunResult:
    """Run ``checks`` against the collected files; every check yields exactly one result."""
    started = time.monotonic()
    run_deadline = started + options.budget
    out = RunResult()
    by_key: dict[str, CheckResult] = {}
    shared: dict[str, Any] = {}
    sandboxes: dict[str, Sandbox | None] = {}
    sandbox_errors: dict[str, str] = {}
    checks = _dependency_order(list(checks))
    current_part = None
    try:
        for i, check in enumerate(checks, start=1):
            if check.part != current_part:
                if current_part is not None:
                    _release_part(shared, current_part)
                current_part = check.part
            part = PARTS[check.part]
            pf = files[check.part]
            if options.progress:
                options.progress(f"[{i}/{len(checks)}] {check.title}")
            failed_deps = [d for d in check.depends
                           if f"{check.part}.{d}" in by_key and by_key[f"{check.part}.{d}"].outcome != Outcome.PASSED]
            grader_errors = [d for d in failed_deps if by_key[f"{check.part}.{d}"].outcome == Outcome.ERROR]
            if failed_deps and len(grader_errors) == len(failed_deps):
                titles = ", ".join(f"'{by_key[f'{check.part}.{d}'].title}'" for d in grader_errors)
                res = _skip(check, f"Not run: it builds on {titles}, which the grader could not grade (a grader "
                                   "error, not a problem with your code).")
            elif failed_deps:
                titles = ", ".join(f"'{by_key[f'{check.part}.{d}'].title}'" for d in failed_deps
                                   if d not in grader_errors)
                res = _skip(check, f"Not run: fix {titles} first (this check builds on it).")
            elif time.monotonic() >= run_deadline:
                res = _skip(check, "Not run: the autograder's time budget was used up by earlier checks. Make your "
                                   "code faster (earlier checks show which functions were slow) and resubmit.")
            else:  # a dependency left out of this run's selection does not block
                if check.part not in sandboxes:
                    sandboxes[check.part] = None
                    if pf.module_ok:
                        try:
                            sandboxes[check.part] = Sandbox(pf.code_dir, limits=options.limits,
                                                            hidden_paths=list(hidden_paths), zygote=zygote)
                        except SandboxUnavailable as exc:
                            sandbox_errors[check.part] = str(exc)
                deadline = min(time.monotonic() + check.timeout, run_deadline)
                if check.part in sandbox_errors:
                    res = CheckResult(key=check.key, title=check.title, number=check.number,
                                      max_score=check.weight, score=0.0, outcome=Outcome.ERROR,
                                      message="The autograder could not run your code safely; this is not your "
                                              "fault. The course staff can see the details.",
                                      staff_message=sandbox_errors[check.part], visibility=check.visibility,
                                      tags=check.tags)
                else:
                    ctx = Context(check, part, pf, sandboxes[check.part], options, deadline, shared, by_key)
                    res = run_check(check, ctx)
            by_key[check.key] = res
            out.checks.append(res)
            if res.leaderboard:
                out.leaderboard.append(res.leaderboard)
    finally:
        for sb in sandboxes.values():
            if sb is not None:
                sb.close()
    out.execution_time = time.monotonic() - started
    out.datasets = list(shared.get("run:datasets", []))
    out.sandbox = str(getattr(zygote, "description", "")) if zygote is not None else ""
    lines = [summary_line(out)]
    for pf in files.values():
        if pf.problem:
            lines.append(f"{pf.part.title}: {pf.problem}")
        lines += [f"Note: {n}" for n in pf.notes]
    out.output = "\n".join(lines + _data_lines(out.datasets, options.data_root))
    return out


def _data_lines(needed: list[str], data_root: Path | None) -> list[str]:
    """Where each dataset a check asked for was found (or why not); nothing when no check needed data."""
    lines: list[str] = []
    if not needed:
        return lines
    from grader import data
    from grader.errors import DataNotFoundError

    for name in needed:
        try:
            location = data.locate(name, data_root)
            lines.append(data.describe(location))
            lines += [f"Note: {note}." for note in data.passed_over(location, data_root)]
        except DataNotFoundError as exc:
            lines.append(f"Data: {name} not found ({exc}).")
    return lines


def summary_line(run: RunResult) -> str:
    """The run's first line: its score and how many checks had each outcome."""
    counts = {o: sum(1 for c in run.checks if c.outcome == o) for o in Outcome}
    parts = [f"{counts[o]} {o.value}" for o in Outcome if counts[o]]
    return f"Score: {run.score:g} / {run.max_score:g} ({', '.join(parts) or 'no checks'})"


def scratch_dir() -> Path:
    path = Path(tempfile.mkdtemp(prefix="grader-"))
    os.chmod(path, 0o711)
    return path
