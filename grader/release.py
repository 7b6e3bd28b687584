"""Generate the student release ``assignment/`` from the reference ``solutions/``.

``solutions/`` is the one source of truth. Instructors mark the code students
must write with solution markers, each on a line of its own and indented like
the code it encloses::

    def svm_loss_naive(W, X, y, reg):
        \"\"\"Docstring: kept as it is.\"\"\"
        # BEGIN SOLUTION: loop over the examples, then over the classes
        ...reference code...
        # END SOLUTION
        return loss, dW

Each marked block becomes, at the marker's indentation, a ``# TODO:`` comment
(the text after ``BEGIN SOLUTION``, or "implement this") followed, inside a
function, by ``raise NotImplementedError("svm_loss_naive is not implemented
yet")``. Outside any function only the comment is left. Everything outside the
markers, docstrings included, is kept verbatim.

* ``.py`` files with markers get a one-line header saying they are generated;
  files without markers (and any other file) are copied byte for byte.
* ``.ipynb`` notebooks are read with nbformat; the markers are honoured in code
  cells, outputs and execution counts are cleared, volatile metadata is dropped,
  and the notebook is written back deterministically.

``python -m grader release`` writes ``assignment/`` (and removes files that
are no longer generated); ``python -m grader release --check`` writes nothing
and exits 1 when ``assignment/`` differs from what would be generated.
"""
from __future__ import annotations

import ast
import difflib
import io
import json
import re
import shutil
import sys
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, cast

from grader.errors import GraderError

if TYPE_CHECKING:
    import argparse

__all__ = [
    "ReleaseError",
    "MarkedBlock",
    "find_blocks",
    "stub_source",
    "stub_notebook",
    "generate",
    "write_tree",
    "diff_tree",
    "main",
]

from grader.layout import ASSIGNMENT as ASSIGNMENT, ROOT

SOLUTIONS = ROOT / "solutions"

BEGIN_RE = re.compile(r"^#+\s*BEGIN SOLUTION\b\s*:?\s*(?P<hint>.*?)\s*$")
END_RE = re.compile(r"^#+\s*END SOLUTION\b.*$")
HEADER = ("# Your file: write your code where it says TODO, then run `python -m grader check` to test it.\n"
          "# (Course staff: generated from solutions/{name} by `python -m grader release`; edit that file.)\n")

# Never copied from solutions/ to assignment/.
_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}
_SKIP_SUFFIXES = {".pyc", ".pyo", ".pt", ".pth"}
# Cell metadata kept in released notebooks; everything else (execution
# timings, scroll state, collapsed flags, ...) is dropped.
_KEEP_CELL_METADATA = ("tags", "editable", "deletable", "slideshow", "name")
_KEEP_NB_METADATA = ("kernelspec",)
# a magic names itself right after % or %%; a shell escape is ! followed by a command (not !=).
# Continuation lines such as "    % (a, b)" inside brackets are ordinary Python and stay as they are.
_MAGIC_RE = re.compile(r"^\s*(%{1,2}[A-Za-z_]|!(?!=)\S)")


class ReleaseError(GraderError):
    """The solution files cannot be turned into a student release (bad markers, ...)."""


@dataclass(frozen=True)
class MarkedBlock:
    """One ``BEGIN SOLUTION`` ... ``END SOLUTION`` block (1-based, inclusive line numbers)."""

    begin: int
    end: int
    indent: str
    hint: str
    function: str | None  # qualified name of the enclosing def, None at module/class level


def _neutralize_magics(source: str) -> str:
    """Turn IPython magics and shell escapes into comments of the same line count."""
    return "".join(
        (line[: len(line) - len(line.lstrip())] + "#" + line.lstrip()) if _MAGIC_RE.match(line) else line
        for line in source.splitlines(keepends=True)
    )


def _comment_lines(source: str, where: str) -> dict[int, str]:
    """Map line number -> comment text, for comments that stand alone on their line."""
    comments: dict[int, str] = {}
    lines = source.splitlines()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                row, col = tok.start
                if lines[row - 1][:col].strip() == "":
                    comments[row] = tok.string
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        raise ReleaseError(f"{where}: cannot tokenize the solution code: {exc}") from exc
    return comments


def _function_spans(source: str, where: str) -> list[tuple[int, int, int, str]]:
    """(first line, last line, column, qualified name) of every def, outermost first."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ReleaseError(f"{where}:{exc.lineno}: the solution code does not parse: {exc.msg}") from exc
    spans: list[tuple[int, int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                spans.append((child.lineno, child.end_lineno or child.lineno, child.col_offset, name))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return spans


def find_blocks(source: str, where: str = "<source>") -> list[MarkedBlock]:
    """Find the solution blocks of ``source``; ``where`` names the file in errors.

    Raises ``ReleaseError`` for an ``END`` without ``BEGIN``, a ``BEGIN`` inside
    another block, or a block that is never closed.
    """
    parsable = _neutralize_magics(source)
    comments = _comment_lines(parsable, where)
    lines = source.splitlines()
    blocks: list[MarkedBlock] = []
    open_line: int | None = None
    open_hint = ""
    for lineno in sorted(comments):
        text = comments[lineno]
        begin = BEGIN_RE.match(text)
        if begin:
            if open_line is not None:
                raise ReleaseError(
                    f"{where}:{lineno}: nested '# BEGIN SOLUTION' (the block opened at line {open_line} "
                    "is not closed yet)"
                )
            open_line, open_hint = lineno, begin.group("hint")
        elif END_RE.match(text):
            if open_line is None:
                raise ReleaseError(f"{where}:{lineno}: '# END SOLUTION' without a matching '# BEGIN SOLUTION'")
            line = lines[open_line - 1]
            indent = line[: len(line) - len(line.lstrip())]
            blocks.append(MarkedBlock(open_line, lineno, indent, open_hint or "implement this", None))
            open_line = None
    if open_line is not None:
        raise ReleaseError(f"{where}:{open_line}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'")
    if not blocks:
        return blocks
    spans = _function_spans(parsable, where)
    result = []
    for block in blocks:
        # The block belongs to a def when the def starts above it, is less
        # indented, and its last statement is not above the block's first line
        # of code (a block may end a function: the END comment is not a node).
        first_code = next(
            (n for n in range(block.begin + 1, block.end) if lines[n - 1].strip()), block.begin
        )
        inner = [s for s in spans if s[0] < block.begin and s[2] < len(block.indent) and first_code <= s[1]]
        name = max(inner, key=lambda s: s[0])[3] if inner else None
        result.append(MarkedBlock(block.begin, block.end, block.indent, block.hint, name))
    return result


def stub_source(source: str, where: str = "<source>") -> tuple[str, int]:
    """Replace every marked block of ``source`` by its stub; returns (new source, number of blocks)."""
    blocks = find_blocks(source, where)
    if not blocks:
        return source, 0
    lines = source.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    out: list[str] = []
    pos = 0
    for block in blocks:
        out.extend(lines[pos : block.begin - 1])
        out.append(f"{block.indent}# TODO: {block.hint}{newline}")
        if block.function is not None:
            out.append(f'{block.indent}raise NotImplementedError("{block.function} is not implemented yet"){newline}')
        pos = block.end
    out.extend(lines[pos:])
    result = "".join(out)
    try:
        ast.parse(_neutralize_magics(result))
    except SyntaxError as exc:
        raise ReleaseError(
            f"{where}:{exc.lineno}: the stubbed code does not parse ({exc.msg}); a block outside a function "
            "must enclose whole statements and leave its enclosing body non-empty"
        ) from exc
    return result, len(blocks)


def _insert_header(text: str, name: str) -> str:
    header = HEADER.format(name=name)
    if text.startswith("#!"):
        first, _, rest = text.partition("\n")
        return first + "\n" + header + rest
    return header + text


def stub_notebook(data: bytes, where: str = "<notebook>") -> bytes:
    """The student version of a notebook: stubs in code cells, no outputs, stable bytes."""
    import nbformat

    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{where}: not a valid notebook (JSON): {exc}") from exc
    if not isinstance(raw, dict) or raw.get("nbformat") != 4:
        raise ReleaseError(f"{where}: only nbformat 4 notebooks are supported")
    for index, cell in enumerate(raw.get("cells", [])):
        if raw.get("nbformat_minor", 0) >= 5 and isinstance(cell, dict) and not cell.get("id"):
            cell["id"] = f"cell-{index}"  # deterministic instead of nbformat's random ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = nbformat.reads(json.dumps(raw), as_version=4)
    for index, cell in enumerate(nb.cells):
        cell_where = f"{where} (cell {index + 1})"
        if cell.cell_type == "code":
            cell.source, _ = stub_source(cell.source, cell_where)
            cell.outputs = []
            cell.execution_count = None
        elif any(BEGIN_RE.match(l.strip()) or END_RE.match(l.strip()) for l in cell.source.splitlines()):
            raise ReleaseError(f"{cell_where}: solution markers are only supported in code cells")
        cell.metadata = nbformat.from_dict({k: cell.metadata[k] for k in _KEEP_CELL_METADATA if k in cell.metadata})
    nb.metadata = nbformat.from_dict({k: nb.metadata[k] for k in _KEEP_NB_METADATA if k in nb.metadata})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise ReleaseError(f"{where}: the generated notebook is not valid: {exc.message}") from exc
    text = cast(str, nbformat.writes(nb, version=4))
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def _release_file(path: Path, rel: str) -> bytes:
    data = path.read_bytes()
    where = f"solutions/{rel}"
    if path.suffix == ".py":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ReleaseError(f"{where}: not UTF-8 text: {exc}") from exc
        stubbed, count = stub_source(text, where)
        if count == 0:
            return data
        return _insert_header(stubbed, rel).encode("utf-8")
    if path.suffix == ".ipynb":
        return stub_notebook(data, where)
    return data


def _iter_files(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts) or not path.is_file():
            continue
        if path.suffix in _SKIP_SUFFIXES:
            continue
        yield path, rel.as_posix()


def generate(solutions: Path = SOLUTIONS) -> dict[str, bytes]:
    """Everything ``assignment/`` should hold: relative POSIX path -> file contents."""
    if not solutions.is_dir():
        raise ReleaseError(f"{solutions}: no solutions folder")
    return {rel: _release_file(path, rel) for path, rel in _iter_files(solutions)}


def _existing(out_dir: Path) -> dict[str, Path]:
    if not out_dir.is_dir():
        return {}
    return {rel: path for path, rel in _iter_files(out_dir)}


def write_tree(files: dict[str, bytes], out_dir: Path) -> list[str]:
    """Make ``out_dir`` hold exactly ``files``; returns the paths written or removed."""
    changed = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for rel, path in _existing(out_dir).items():
        if rel not in files:
            path.unlink()
            changed.append(rel)
    for rel, data in sorted(files.items()):
        target = out_dir / rel
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        changed.append(rel)
    for path in sorted(out_dir.rglob("*"), reverse=True):
        if path.is_dir() and path.name in _SKIP_DIRS:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return changed


def diff_tree(files: dict[str, bytes], out_dir: Path) -> list[str]:
    """Human-readable differences between ``files`` and ``out_dir`` (empty when identical)."""
    report = []
    existing = _existing(out_dir)
    for rel in sorted(set(files) | set(existing)):
        if rel not in existing:
            report.append(f"missing: assignment/{rel}")
            continue
        if rel not in files:
            report.append(f"stale:   assignment/{rel} (no longer generated)")
            continue
        actual = existing[rel].read_bytes()
        if actual == files[rel]:
            continue
        try:
            diff = list(
                difflib.unified_diff(
                    actual.decode("utf-8").splitlines(),
                    files[rel].decode("utf-8").splitlines(),
                    f"assignment/{rel} (committed)",
                    f"assignment/{rel} (generated)",
                    lineterm="",
                    n=1,
                )
            )
        except UnicodeDecodeError:
            diff = []
        summary = f"differs: assignment/{rel}"
        if diff:
            added = sum(1 for l in diff if l.startswith("+") and not l.startswith("+++"))
            removed = sum(1 for l in diff if l.startswith("-") and not l.startswith("---"))
            summary += f" (+{added} -{removed} lines)"
            shown = diff[:40]
            if len(diff) > 40:
                shown.append(f"... {len(diff) - 40} more diff lines")
            summary += "\n" + "\n".join("    " + l for l in shown)
        report.append(summary)
    return report


def main(args: argparse.Namespace) -> int:
    """``python -m grader release [--check]``."""
    try:
        files = generate(SOLUTIONS)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "check", False):
        report = diff_tree(files, ASSIGNMENT)
        if report:
            print("assignment/ is out of date with solutions/:")
            for line in report:
                print("  " + line)
            print("Run `python -m grader release` to regenerate it.")
            return 1
        print(f"assignment/ is up to date ({len(files)} files).")
        return 0
    changed = write_tree(files, ASSIGNMENT)
    for rel in changed:
        print(f"wrote assignment/{rel}" if rel in files else f"removed assignment/{rel}")
    print(f"assignment/: {len(files)} files, {len(changed)} changed.")
    return 0
