"""Submission intake: find the expected files, copy only those, turn notebooks into modules.

Nothing else from a submission is ever imported or executed. Each part gets a
:class:`PartFiles` record: the folder its module can be imported from, the artifacts
found (e.g. saved models), and, when a required file is unusable, the message that every
check of the part reports.
"""
from __future__ import annotations

import ast
import json
import re
import shutil
import stat
import textwrap
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grader.errors import SubmissionError
from grader.registry import Part

MAX_SOURCE_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # outputs (plots) included; the code cells are held to MAX_SOURCE_BYTES
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024
MAX_PICKLED_BYTES = 8 * 1024 * 1024  # containers around the tensors of a saved model
MAX_ZIP_BYTES = 256 * 1024 * 1024
_DUPLICATE = re.compile(r"^(?P<stem>.+?)(?:\s*\(\d+\)|\s*-\s*copy|\s+copy|_\d+)(?P<ext>\.[A-Za-z0-9]+)$", re.I)


@dataclass
class PartFiles:
    part: Part
    code_dir: Path
    module_ok: bool = False
    problem: str = ""                                   # why the module cannot be graded
    artifacts: dict[str, Path] = field(default_factory=dict)
    artifact_problems: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except OSError:
        return False


def _listing(root: Path) -> list[Path]:
    """Every entry under root (symlinks listed, never followed), shallow first."""
    out: list[Path] = []
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        for e in entries:
            if e.name in ("__MACOSX", ".git", "__pycache__", ".ipynb_checkpoints", ".venv", "venv", "site-packages"):
                continue
            if e.name == "grader" and (e / "public_checks").is_dir():  # the checker itself (a student's bundle)
                continue
            out.append(e)
            if e.is_dir() and not e.is_symlink() and len(e.relative_to(root).parts) < 4:
                stack.append(e)
    return sorted(out, key=lambda p: (len(p.relative_to(root).parts), str(p)))


class _Finder:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries = _listing(root)

    def find(self, name: str) -> tuple[Path | None, str, list[str]]:
        """Return (path, problem, notes) for the expected file ``name``."""
        notes: list[str] = []
        exact = [e for e in self.entries if e.name == name]
        if exact:
            chosen = exact[0]
            if chosen.is_symlink():
                return None, (f"{name} is a symbolic link. Submit the file itself, not a link to it."), notes
            if not _regular(chosen):
                return None, f"{name} is not a regular file.", notes
            rel = chosen.relative_to(self.root)
            if len(rel.parts) > 1:
                notes.append(f"Found {name} in the folder {rel.parent}/; the grader used it. Next time, submit "
                             "the files themselves rather than a folder.")
            if len(exact) > 1:
                others = ", ".join(str(e.relative_to(self.root)) for e in exact[1:])
                notes.append(f"Several files are named {name}; the grader used {rel} and ignored {others}.")
            return chosen, "", notes
        near = [e for e in self.entries if _regular(e) and (e.name.lower() == name.lower() or
                                                            _is_duplicate_name(e.name, name))]
        if len(near) == 1:
            rel = near[0].relative_to(self.root)
            notes.append(f"Expected a file named exactly {name}, found {rel}; the grader used it. Please rename "
                         f"it to {name} before your next submission.")
            return near[0], "", notes
        if len(near) > 1:
            names = ", ".join(str(e.relative_to(self.root)) for e in near)
            return None, (f"{name} is missing, and several files look like it ({names}). Submit exactly one "
                          f"file named {name}."), notes
        return None, "", notes

    def names(self) -> str:
        files = [str(e.relative_to(self.root)) for e in self.entries if _regular(e)]
        return ", ".join(files[:20]) + (" ..." if len(files) > 20 else "") if files else "no files"


def _is_duplicate_name(found: str, expected: str) -> bool:
    m = _DUPLICATE.match(found)
    return m is not None and (m.group("stem") + m.group("ext")).lower() == expected.lower()


def _extract_zips(root: Path, scratch: Path) -> Path | None:
    """A submission made of a zip file (a zipped folder uploaded as a file): extract it safely."""
    zips = [e for e in _listing(root) if _regular(e) and e.suffix.lower() == ".zip"]
    if not zips:
        return None
    target = scratch / "unzipped"
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    with zipfile.ZipFile(zips[0]) as zf:
        for info in zf.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or name.is_absolute() or ".." in name.parts:
                continue
            if (info.external_attr >> 16) & 0o170000 == 0o120000:  # symlink inside the zip
                continue
            total += info.file_size
            if total > MAX_ZIP_BYTES:
                break
            dest = target.joinpath(*name.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out)
    return target


def collect(submission: Path, parts: list[Part], scratch: Path) -> dict[str, PartFiles]:
    """Find every part's files in ``submission`` and copy them under ``scratch``."""
    submission = Path(submission)
    if not submission.is_dir():
        raise SubmissionError(f"The submission folder {submission} does not exist.")
    finder = _Finder(submission)
    zip_finder: _Finder | None = None
    zip_error = ""
    out: dict[str, PartFiles] = {}
    for part in parts:
        code_dir = scratch / part.name
        code_dir.mkdir(parents=True, exist_ok=True)
        pf = PartFiles(part=part, code_dir=code_dir)
        out[part.name] = pf

        def find(name: str) -> tuple[Path | None, str, list[str]]:
            nonlocal zip_finder, zip_error
            path, problem, notes = finder.find(name)
            if path is None and not problem:
                if zip_finder is None:
                    try:
                        extracted = _extract_zips(submission, scratch)
                    except Exception as exc:  # noqa: BLE001 - a corrupt or hostile zip is the student's to fix
                        extracted = None
                        zip_error = (f"the zip file in your submission could not be unpacked ({type(exc).__name__}: "
                                     f"{str(exc)[:200]}). Submit the files themselves, or a zip made again.")
                    zip_finder = _Finder(extracted) if extracted else _Finder(scratch / "none")
                path, problem, notes2 = zip_finder.find(name)
                if path is not None:
                    notes2.append(f"{name} was taken from the zip file in your submission.")
                elif not problem and zip_error and name.endswith(".py"):
                    problem = f"{name} was not found in your submission, and {zip_error}"
                notes += notes2
            return path, problem, notes

        module_file = part.module + ".py"
        py, py_problem, notes = find(module_file)
        pf.notes += notes
        nb, nb_problem, nb_notes = find(part.notebook)
        if py is not None:
            if nb is not None:
                pf.notes.append(f"Both {module_file} and {part.notebook} were submitted; {module_file} was graded.")
            try:
                source = _read_source(py, module_file)
                _write_module(code_dir / module_file, source)
                pf.module_ok = True
            except SubmissionError as exc:
                pf.problem = str(exc)
        elif nb is not None:
            pf.notes += nb_notes
            try:
                if nb.stat().st_size > MAX_NOTEBOOK_BYTES:
                    raise SubmissionError(f"{part.notebook} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB. Clear "
                                          "its outputs, or submit the .py file, and submit again.")
                source, nb_notes2 = notebook_to_module(nb.read_bytes(), part.notebook)
                pf.notes += nb_notes2
                _write_module(code_dir / module_file, source)
                pf.module_ok = True
                pf.notes.append(f"{module_file} was not submitted; the grader used the code of {part.notebook}.")
            except SubmissionError as exc:
                pf.problem = str(exc)
            except Exception as exc:  # noqa: BLE001 - whatever a notebook does to the converter, only its part fails
                pf.problem = (f"{part.notebook} could not be converted to code ({type(exc).__name__}). Submit "
                              f"{module_file} instead, or a notebook saved again from Jupyter.")
        else:
            problem = py_problem or nb_problem
            pf.problem = problem or (f"{module_file} was not found in your submission (found: {finder.names()}). "
                                     f"Submit {module_file} (or {part.notebook}) at the top level.")
        for name in part.artifacts:
            path, problem, notes = find(name)
            pf.notes += notes
            if path is None:
                pf.artifact_problems[name] = problem or (f"{name} was not found in your submission. Run the "
                                                         "notebook to the end to create it, then submit it.")
                continue
            if path.stat().st_size > MAX_ARTIFACT_BYTES:
                pf.artifact_problems[name] = f"{name} is larger than {MAX_ARTIFACT_BYTES // 2**20} MB."
                continue
            bloated = _pickled_bytes(path) if name.endswith((".pt", ".pth")) else 0
            if bloated > MAX_PICKLED_BYTES:
                # the grader loads saved models in its own process: bound what unpickling can allocate
                pf.artifact_problems[name] = (
                    f"{name} holds {bloated / 2**20:.0f} MB of pickled Python objects besides its tensors (at most "
                    f"{MAX_PICKLED_BYTES // 2**20} MB). Save only tensors, e.g. the dict that save() writes.")
                continue
            dest = scratch / (part.name + "-artifacts") / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest, follow_symlinks=False)
            pf.artifacts[name] = dest
    return out


def _pickled_bytes(path: Path) -> int:
    """Size of the pickled (non-tensor) part of a torch.save archive; 0 when it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            return sum(i.file_size for i in zf.infolist() if i.filename.endswith(".pkl"))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return 0


def _read_source(path: Path, name: str) -> str:
    if path.stat().st_size > MAX_SOURCE_BYTES:
        raise SubmissionError(f"{name} is larger than {MAX_SOURCE_BYTES // 2**20} MB; submit only your code.")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{name} is not UTF-8 text (byte {exc.start}); save it as UTF-8.") from None


def _write_module(dest: Path, source: str) -> None:
    dest.write_text(source, encoding="utf-8")


_KEEP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_constant_expr(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(_is_constant_expr(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is None or _is_constant_expr(k) for k in node.keys) and all(_is_constant_expr(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return _is_constant_expr(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_constant_expr(node.left) and _is_constant_expr(node.right)
    if isinstance(node, ast.Attribute):  # e.g. torch.float64
        return isinstance(node.value, ast.Name)
    return False


_MAGIC_ASSIGNMENT = re.compile(r"^[A-Za-z_][\w, ]*=\s*[!%]")


def _is_magic(line: str) -> bool:
    s = line.lstrip()
    return (s.startswith("%") or (s.startswith("!") and not s.startswith("!="))
            or bool(_MAGIC_ASSIGNMENT.match(s)))


def _strip_magics(source: str) -> str:
    """The cell's source with IPython magics and shell escapes blanked (line numbers kept).

    Only a line that starts a statement can be a magic: a continuation line inside brackets,
    a string or after a backslash that begins with ``%`` or ``!=`` is ordinary Python.
    """
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        magic = lines[0].split()[0]
        if magic in ("%%time", "%%timeit", "%%capture"):
            lines = [""] + lines[1:]
        else:
            return ""
    kept = []
    depth = 0                  # open brackets
    quote: str | None = None   # the delimiter of a string left open at the end of the previous line
    continued = False          # previous line ended with a backslash
    for line in lines:
        if depth == 0 and quote is None and not continued and _is_magic(line):
            kept.append("")
            continue
        kept.append(line)
        continued = False
        i = 0
        while i < len(line):
            c = line[i]
            if quote is not None:
                if c == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i += len(quote)
                    quote = None
                    continue
                i += 1
                continue
            if c == "#":
                break
            if c in "([{":
                depth += 1
            elif c in ")]}":
                depth = max(0, depth - 1)
            elif c in "\"'":
                quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else c
                i += len(quote)
                continue
            elif c == "\\" and i == len(line) - 1:
                continued = True
            i += 1
        if quote in ('"', "'") and not continued:
            quote = None  # an unterminated one-line string: a syntax error the parser will report
    return "\n".join(kept)


# what a notebook imports only to show, or to run itself (the assignment's `helpers`: data loaders, plots,
# the self-check), never needed by a graded function and absent from the sandbox
_NOTEBOOK_ONLY = ("matplotlib", "seaborn", "plotly", "IPython", "ipywidgets", "google", "tqdm", "helpers")


def _notebook_only_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module]
    else:
        return False
    return all(n.split(".")[0] in _NOTEBOOK_ONLY for n in names)


def _segment(lines: list[str], node: ast.stmt) -> str:
    """Source lines of a top-level statement, decorators included (``lines``: the cell's, split once,
    so a cell of many statements is converted in linear time)."""
    start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return "\n".join(lines[start - 1: node.end_lineno])


def notebook_to_module(raw: bytes, name: str) -> tuple[str, list[str]]:
    """The definitions of a notebook's code cells as module source, plus notes for the student.

    Only imports, functions, classes and constant assignments are kept: the rest of a
    notebook (loading data, training, plotting) would run at import time.
    """
    import nbformat

    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(f"{name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB. Clear its outputs (Edit > "
                              "Clear All Outputs in Jupyter, or submit the .py file) and submit again.")
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except RecursionError:
        raise SubmissionError(f"{name} is not a valid notebook: its JSON is nested too deeply to read.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SubmissionError(f"{name} is not a valid notebook: its JSON is malformed ({exc}). Re-download it "
                              "from Jupyter (File > Download) and submit again.") from None
    if not isinstance(doc, dict) or "cells" not in doc and "worksheets" not in doc:
        raise SubmissionError(f"{name} is not a Jupyter notebook (no cells found).")
    major = doc.get("nbformat")
    if major != 4:
        raise SubmissionError(f"{name} is saved in notebook format {major}, which the grader does not read. Open "
                              "it in a current Jupyter and save it again (format 4), then resubmit.")
    try:
        with warnings.catch_warnings():  # e.g. cells without ids (nbformat 4.5): harmless for grading
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(doc), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        raise SubmissionError(f"{name} could not be read as a notebook: {exc}") from None
    cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    if not cells:
        raise SubmissionError(f"{name} has no code cells, so there is nothing to grade.")
    code_bytes = sum(len(c.source if isinstance(c.source, str) else "".join(c.source)) for c in cells)
    if code_bytes > MAX_SOURCE_BYTES:
        raise SubmissionError(f"The code cells of {name} hold {code_bytes // 1024} KB of code, more than the "
                              f"{MAX_SOURCE_BYTES // 2**20} MB a module may have; submit only your code.")
    chunks: list[str] = []
    future: list[str] = []     # ``from __future__`` imports must open the module
    notes: list[str] = []
    skipped = 0
    for i, cell in enumerate(cells, start=1):
        src = _strip_magics(cell.source if isinstance(cell.source, str) else "".join(cell.source))
        try:
            tree = ast.parse(src)
        except SyntaxError as exc:
            notes.append(f"Code cell {i} of {name} has a syntax error (line {exc.lineno}: {exc.msg}); it was "
                         "skipped.")
            continue
        except (RecursionError, MemoryError, ValueError) as exc:
            notes.append(f"Code cell {i} of {name} could not be parsed ({type(exc).__name__}: an expression nested "
                         "too deeply, say); it was skipped.")
            continue
        lines = src.splitlines()
        for node in tree.body:
            try:
                keep = isinstance(node, _KEEP) or (
                    isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
                    and _is_constant_expr(node.value))
            except RecursionError:
                keep = False
            if not keep:
                skipped += 1
            elif isinstance(node, ast.ImportFrom) and node.module == "__future__":
                future.append(_segment(lines, node))
            elif _notebook_only_import(node):
                # plotting and notebook helpers are not needed to grade, and may be absent from the image
                guarded = textwrap.indent(_segment(lines, node).strip(), "    ")
                chunks.append(f"# from code cell {i}\ntry:\n{guarded}\nexcept ImportError:\n    pass")
            else:
                chunks.append(f"# from code cell {i}\n" + _segment(lines, node))
    if skipped:
        notes.append(f"From {name}, the grader kept only imports, functions, classes and constants; {skipped} "
                     "other top-level statements (data loading, training, plots) were not run.")
    return "\n\n".join(future + chunks) + "\n", notes
