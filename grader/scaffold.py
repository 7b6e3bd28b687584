"""``python -m grader new-part NAME``: scaffold a new assignment part that works as generated.

From the templates in ``grader/templates/`` it writes, for a part ``NAME`` numbered after the
declared ones (Part 5 after four):

* ``solutions/NAME.py``: the reference, a small example function (``affine``) with solution markers;
* ``solutions/NAME.ipynb``: the notebook students run, importing the module;
* ``grader/public_checks/NAME.py``: the part's declaration (``PART = Part(...)``) and a public check;
* ``grader/checks/NAME.py``: hidden checks comparing with the reference;
* ``tests/test_NAME.py``: the harness: the reference earns full marks, the stubs zero, each mutant
  loses exactly its checks;

then regenerates ``assignment/`` as ``python -m grader release`` does. Everything else that lists
parts (grading, ``check``, the demo, the student bundle and its README) reads the declaration.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import keyword
import re
import string
import sys
from pathlib import Path
from typing import cast

from grader.errors import GraderError
from grader.layout import ASSIGNMENT, HIDDEN_CHECKS, PACKAGE, ROOT

__all__ = ["ScaffoldError", "TEMPLATES", "next_part_number", "check_name", "part_files", "notebook_json",
           "new_part", "main"]

TEMPLATES: Path = PACKAGE / "templates"
#: Names a part cannot take: files of the assignment that are not parts.
_RESERVED = {"helpers", "conftest", "grader"}
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*")


class ScaffoldError(GraderError):
    """A part cannot be scaffolded under this name or title (the message says why)."""


def next_part_number() -> int:
    """The number after the highest part number the declared checks print (1 when there is none)."""
    from grader.registry import CHECKS, ordered_parts

    numbers = [CHECKS[p.name][0].number.split(".")[0] for p in ordered_parts()]
    return max((int(n) for n in numbers if n.isdigit()), default=0) + 1


def _targets(name: str) -> list[Path]:
    return [ROOT / "solutions" / f"{name}.py", ROOT / "solutions" / f"{name}.ipynb",
            PACKAGE / "public_checks" / f"{name}.py", HIDDEN_CHECKS / f"{name}.py",
            ROOT / "tests" / f"test_{name}.py"]


def check_name(name: str) -> None:
    """Raise :class:`ScaffoldError` unless ``name`` can name a new part: a lowercase Python identifier
    that no declared part, no file of the part-to-be and no importable module already uses."""
    from grader.registry import ordered_parts

    if not _NAME_RE.fullmatch(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"{name!r} is not a valid part name: it becomes the module students import, so it "
                            "must be a lowercase Python identifier (letters, digits and underscores, starting "
                            "with a letter, not a keyword), e.g. 'decision_trees'.")
    declared = {p.name: p for p in ordered_parts()}
    if name in declared:
        raise ScaffoldError(f"a part named {name!r} exists already ({declared[name].title}); choose another name.")
    existing = [p for p in _targets(name) if p.exists()]
    if existing:
        raise ScaffoldError(f"{', '.join(str(p.relative_to(ROOT)) for p in existing)} exists already; "
                            "choose another name.")
    spec = None if name in _RESERVED else importlib.util.find_spec(name)
    if name in _RESERVED or spec is not None:
        where = f" ({spec.origin or ', '.join(spec.submodule_search_locations or [])})" if spec else ""
        raise ScaffoldError(f"{name!r} is already the name of a module{where}; a student's {name}.py would "
                            "shadow it, or be shadowed by it. Choose another name.")


def _check_title(title: str) -> str:
    title = title.strip().rstrip(".")
    if not title or not title.isprintable() or "\\" in title or '"""' in title:
        raise ScaffoldError(f"{title!r} is not a usable title: one printable line, without backslashes or "
                            'triple quotes, e.g. --title "Decision trees on MNIST".')
    return title


def _render(template: str, values: dict[str, str]) -> str:
    return string.Template((TEMPLATES / template).read_text(encoding="utf-8")).substitute(values)


def notebook_json(percent_source: str, name: str) -> str:
    """A notebook (nbformat 4.5, no outputs, ids derived from ``name``) from a script in the "percent"
    format: ``# %%`` opens a code cell, ``# %% [markdown]`` a markdown cell whose lines are comments."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    chunks = re.split(r"^# %%(.*)\n", percent_source, flags=re.M)[1:]
    for index, (marker, body) in enumerate(zip(chunks[::2], chunks[1::2])):
        body = body.strip("\n")
        if marker.strip() == "[markdown]":
            cell = nbformat.v4.new_markdown_cell("\n".join(line[2:] for line in body.splitlines()))
        else:
            cell = nbformat.v4.new_code_cell(body)
        cell.id = hashlib.sha256(f"{name}/{index}".encode()).hexdigest()[:8]
        nb.cells.append(cell)
    nbformat.validate(nb)
    return cast(str, nbformat.writes(nb, version=4)) + "\n"


def part_files(name: str, title: str, number: int) -> dict[Path, str]:
    """What :func:`new_part` writes: path -> text."""
    full_title = f"Part {number}: {_check_title(title)}"
    values = {"name": name, "number": str(number), "title": full_title,
              "title_literal": json.dumps(full_title, ensure_ascii=False)}
    solution, notebook, public, hidden, test = _targets(name)
    return {solution: _render("solution.py.tmpl", values),
            notebook: notebook_json(_render("notebook.py.tmpl", values), name),
            public: _render("public_checks.py.tmpl", values),
            hidden: _render("checks.py.tmpl", values),
            test: _render("test_part.py.tmpl", values)}


def new_part(name: str, title: str | None = None) -> list[Path]:
    """Scaffold the part ``name`` and regenerate ``assignment/``; returns the files written (under
    ``assignment/`` too). Raises :class:`ScaffoldError` (nothing written) for a name or title that
    cannot be used."""
    from grader.release import SOLUTIONS, generate, write_tree

    check_name(name)
    files = part_files(name, title or name.replace("_", " ").capitalize(), next_part_number())
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    released = write_tree(generate(SOLUTIONS), ASSIGNMENT)
    return list(files) + [ASSIGNMENT / rel for rel in released]


def main(args: argparse.Namespace) -> int:
    """``python -m grader new-part NAME [--title TITLE]``."""
    from grader.release import ReleaseError

    try:
        written = new_part(args.name, args.title)
    except ScaffoldError as exc:
        print(f"new-part: {exc}", file=sys.stderr)
        return 2
    except ReleaseError as exc:
        print(f"new-part: the part is written, but assignment/ could not be regenerated: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    name = args.name
    print(f"\nNext: replace the example function `affine` in solutions/{name}.py and its notebook with the part's "
          f"own work, and the checks in grader/public_checks/{name}.py and grader/checks/{name}.py with checks of "
          "it; then run\n"
          f"  python -m grader release\n  python -m pytest tests/test_{name}.py\n"
          f"  python -m grader demo --part {name}")
    return 0
