"""The two zips: the student bundle holds no secret, the autograder zip runs in a fake /autograder."""
from __future__ import annotations

import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from conftest import reference_body_lines
from grader import package

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
ASSIGNMENT = ROOT / "assignment"
CHECKS = ROOT / "grader" / "checks"

needs_release = pytest.mark.skipif(
    not ASSIGNMENT.is_dir() or not any(ASSIGNMENT.iterdir()), reason="assignment/ not generated yet"
)
needs_core = pytest.mark.skipif(
    not (ROOT / "grader" / "commands.py").exists(), reason="the grading core (grader/commands.py) is not there yet"
)


def hidden_check_names() -> set[str]:
    """Names of the functions and classes defined in grader/checks/*.py that students never see.

    Names that are part of what students are given (the functions they implement,
    named in assignment/) are not secrets, and very short names are too generic.
    """
    names: set[str] = set()
    for path in sorted(CHECKS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        try:
            tree = ast.parse(text)
        except SyntaxError:  # still read the names of a file that does not parse
            names.update(re.findall(r"^\s*(?:async\s+)?(?:def|class)\s+(\w+)", text, re.M))
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
    public = "\n".join(p.read_text(errors="replace") for p in ASSIGNMENT.rglob("*") if p.is_file())
    return {n for n in names if len(n) >= 8 and not n.startswith("__") and n not in public}


def hidden_check_titles() -> set[str]:
    """Titles given to the hidden checks (``@check("title", ...)``), unless a public check has the same."""
    def titles(folder: Path) -> set[str]:
        found: set[str] = set()
        for path in sorted(folder.rglob("*.py")):
            found.update(re.findall(r"@check\(\s*(?:title\s*=\s*)?[\"']([^\"']{12,})[\"']", path.read_text()))
        return found

    return titles(CHECKS) - titles(ROOT / "grader" / "public_checks")


def _unzip(zip_path: Path, dest: Path) -> None:
    """Unpack like `unzip` does: with the mode bits stored in the zip."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = dest / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)


@pytest.fixture(scope="module")
def student_zip(tmp_path_factory) -> Path:
    if not ASSIGNMENT.is_dir() or not any(ASSIGNMENT.iterdir()):
        pytest.skip("assignment/ not generated yet")
    return package.build_student_bundle(tmp_path_factory.mktemp("student") / "student_bundle.zip")


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    return package.build_autograder(tmp_path_factory.mktemp("autograder") / "autograder.zip")


# ---------------------------------------------------------------------------
# Student bundle
# ---------------------------------------------------------------------------


@needs_release
def test_student_bundle_layout(student_zip):
    names = zipfile.ZipFile(student_zip).namelist()
    for path in sorted(ASSIGNMENT.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            assert path.relative_to(ASSIGNMENT).as_posix() in names
    assert {"grader/__init__.py", "grader/cli.py", "pyproject.toml", "STUDENT_README.md"} <= set(names)
    assert [n for n in names if n.startswith("grader/checks/")] == ["grader/checks/__init__.py"]
    assert not [n for n in names if n.startswith(("solutions/", "assignment/"))]
    assert not {"grader/release.py", "grader/package.py", "grader/batch.py"} & set(names)
    public = ROOT / "grader" / "public_checks"
    assert {p.relative_to(ROOT).as_posix() for p in public.glob("*.py")} <= set(names)
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pt"))]
    readme = zipfile.ZipFile(student_zip).read("STUDENT_README.md").decode()
    assert "python -m grader check" in readme


@needs_release
def test_student_readme_lists_every_file_each_part_grades(student_zip):
    """The upload list comes from the parts' declarations: every module and saved artifact a check
    grades is named, and nothing the student does not write (helpers.py) is."""
    from grader.registry import ordered_parts

    readme = zipfile.ZipFile(student_zip).read("STUDENT_README.md").decode()
    upload = readme.split("## Submit", 1)[1]
    for part in ordered_parts():
        for name in part.files + part.artifacts:
            assert f"`{name}`" in upload, (name, upload)
    assert "helpers.py" not in upload
    for system in ("Windows", "macOS", "Colab", "ipykernel", "matplotlib", "download-data"):
        assert system in readme, system


def test_student_readme_installs_every_dependency_of_the_grader(student_zip):
    """The set-up's pip lines name every package the grader depends on (pyproject.toml, read here on
    its own) besides torch, on every system and on Colab (where torch, numpy, matplotlib come installed)."""
    import tomllib

    readme = zipfile.ZipFile(student_zip).read("STUDENT_README.md").decode()
    lines = [line.strip() for line in readme.splitlines() if "pip install" in line]
    local = next(line for line in lines if line.startswith("pip install numpy"))
    colab = next(line for line in lines if line.startswith("`!pip install"))
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[<>=!~ ]", spec)[0] for spec in declared} - {"torch", "torchvision"}
    assert "psutil" in names
    for name in names:
        assert f" {name}" in local and f" {name}" in colab, (name, local, colab)


def bundle_leaks(zip_path: Path) -> list[str]:
    """Every file of the zip that holds a reference body line or a hidden check's name or title."""
    secrets = reference_body_lines(SOLUTIONS)
    check_names = hidden_check_names()
    check_titles = hidden_check_titles()
    leaks = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8", errors="replace")
            if name.endswith(".ipynb"):  # also the cells' text, free of JSON escaping
                text += "\n".join(_code_lines_from_text(text))
            found = sorted(s for s in secrets if s in text)
            found += sorted(n for n in check_names if re.search(rf"\b{re.escape(n)}\b", text))
            found += sorted(t for t in check_titles if t in text)
            if found:
                leaks.append(f"{name}: {found[:3]}")
    return leaks


@needs_release
def test_student_bundle_holds_no_solution_code_and_no_hidden_check(student_zip):
    assert reference_body_lines(SOLUTIONS), "expected marked reference code in solutions/"
    with zipfile.ZipFile(student_zip) as zf:
        stub = zf.read("grader/checks/__init__.py").decode()
    assert "def " not in stub and "class " not in stub
    assert bundle_leaks(student_zip) == []


@needs_release
def test_the_leak_search_finds_a_leak(student_zip, tmp_path):
    """The safety test above is not vacuous: a bundle with the reference or the checks in it fails."""
    leaky = tmp_path / "leaky.zip"
    shutil.copy(student_zip, leaky)
    extra = [p for p in [*SOLUTIONS.glob("*.py"), *CHECKS.glob("*.py")] if p.name != "__init__.py"]
    with zipfile.ZipFile(leaky, "a") as zf:
        for path in extra:
            zf.write(path, f"misc/{path.parent.name}/{path.name}")
    leaks = bundle_leaks(leaky)
    assert any(l.startswith("misc/") for l in leaks)
    assert not [l for l in leaks if not l.startswith("misc/")]


def _code_lines_from_text(text: str) -> list[str]:
    return ["".join(c.get("source", "")) for c in json.loads(text).get("cells", [])]


@needs_release
def test_student_bundle_refuses_a_stale_release(monkeypatch, tmp_path, capsys):
    from grader import release

    stale = tmp_path / "assignment"
    shutil.copytree(ASSIGNMENT, stale)
    first = sorted(p for p in stale.rglob("*.py"))[0]
    first.write_text(first.read_text() + "# edited by hand\n")
    monkeypatch.setattr(release, "ASSIGNMENT", stale)

    class Args:
        output = tmp_path / "bundle.zip"

    assert package.build_student_bundle_main(Args) == 1
    assert "python -m grader release" in capsys.readouterr().err
    assert not (tmp_path / "bundle.zip").exists()


@needs_release
@needs_core
def test_student_bundle_check_runs_without_solutions_or_hidden_checks(student_zip, tmp_path):
    bundle = tmp_path / "bundle"
    _unzip(student_zip, bundle)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "PYTHONPATH"))}
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "check"], cwd=bundle, env=env, capture_output=True, text=True, timeout=300
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "No module named" not in output, output
    assert "Note:" not in output and "Data:" not in output, output  # nothing about the checker's own files
    # --help lists what works in a bundle, not the instructor's tools (absent there)
    proc = subprocess.run([sys.executable, "-m", "grader", "--help"], cwd=bundle, env=env, capture_output=True,
                          text=True, timeout=60)
    listed = set(re.findall(r"^    (\S+)", proc.stdout, flags=re.M))
    assert {"grade", "check", "download-data"} <= listed, proc.stdout
    assert not listed & {"demo", "release", "build-autograder", "build-student-bundle", "grade-all"}, proc.stdout


# ---------------------------------------------------------------------------
# Autograder zip
# ---------------------------------------------------------------------------


def test_autograder_zip_layout(autograder_zip):
    with zipfile.ZipFile(autograder_zip) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        for script in ("setup.sh", "run_autograder"):
            mode = infos[script].external_attr >> 16
            assert stat.S_ISREG(mode) and mode & 0o111 == 0o111, script
        names = set(infos)
        assert "grader/checks/__init__.py" in names
        assert "grader/__main__.py" in names and "pyproject.toml" in names
        assert {p.relative_to(ROOT).as_posix() for p in SOLUTIONS.glob("*.py")} <= names
        assert {p.relative_to(ROOT).as_posix() for p in CHECKS.glob("*.py")} <= names
        assert not [n for n in names if n.startswith(("assignment/", ".venv/", ".git/", "tests/"))]
        assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".pt"))]
        run = zf.read("run_autograder").decode()
        assert run.splitlines() == [
            "#!/usr/bin/env bash",
            "cd /autograder/source && exec /autograder/venv/bin/python -m grader grade"
            " --submission /autograder/submission --results /autograder/results/results.json"
            " --data-root /autograder/data",
        ]
        reqs = zf.read("requirements-autograder.txt").decode().splitlines()
        assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
        assert not [r for r in reqs if r.startswith(("nvidia", "triton", "cuda"))]
        assert [r for r in reqs if r.lower().startswith("nbformat==")]
        setup = zf.read("setup.sh").decode()
    assert "https://download.pytorch.org/whl/cpu" in setup
    assert "chmod -R go-rwx /autograder/source/solutions /autograder/source/grader/checks" in setup
    assert "download-data --data-root" in setup
    subprocess.run(["bash", "-n", "-c", setup], check=True)


def test_zips_are_deterministic(autograder_zip, tmp_path):
    again = package.build_autograder(tmp_path / "again.zip")
    assert again.read_bytes() == autograder_zip.read_bytes()
    with zipfile.ZipFile(again) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@needs_core
@pytest.mark.slow
def test_autograder_end_to_end_in_a_fake_autograder_tree(autograder_zip):
    """Unpack the zip as Gradescope does, submit the reference as a student would, run run_autograder."""
    root = Path(tempfile.mkdtemp(prefix="fake-autograder-"))
    try:
        root.chmod(0o755)  # like /autograder: the unprivileged sandbox user must reach source/
        source, submission, results = root / "source", root / "submission", root / "results"
        for folder in (source, submission, results, root / "data"):
            folder.mkdir()
            folder.chmod(0o755)
        _unzip(autograder_zip, source)
        for path in sorted(SOLUTIONS.iterdir()):
            if path.suffix in (".py", ".ipynb"):
                shutil.copy(path, submission / path.name)
        # what setup.sh does to the secrets
        for secret in (source / "solutions", source / "grader" / "checks"):
            for p in [secret, *secret.rglob("*")]:
                p.chmod(p.stat().st_mode & ~0o077)

        script = (source / "run_autograder").read_text()
        script = script.replace("/autograder/venv/bin/python", sys.executable).replace("/autograder/", f"{root}/")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRADER_", "PYTHONPATH"))}
        probe = subprocess.run(
            [sys.executable, "-c", "import grader, sys; sys.stdout.write(grader.__file__)"],
            cwd=source, env=env, capture_output=True, text=True, check=True,
        )
        assert Path(probe.stdout).is_relative_to(source), "the run must use the unpacked source, not the checkout"

        proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=590)
        results_json = results / "results.json"
        assert results_json.is_file(), proc.stdout + proc.stderr
        doc = json.loads(results_json.read_text())
        assert isinstance(doc.get("tests"), list) and doc["tests"], doc
        if any(p.name != "__init__.py" for p in CHECKS.glob("*.py")):
            errors = [t for t in doc["tests"] if t.get("name") == "Autograder error"]
            assert not errors, json.dumps(doc, indent=1)[:4000]
    finally:
        shutil.rmtree(root, ignore_errors=True)
