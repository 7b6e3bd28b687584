"""The class report of a ``grade-all`` run: who the submissions are, what each check found.

``grade-all`` leaves one ``results.json`` per submission. This module reads them back with
Gradescope's ``submission_metadata.yml`` (when the folder is an export) and writes:

``scores.csv``
    one row per student (every submitter of a group submission), with the total, one column
    per part and one per check (points);
``results_long.csv``
    one row per student and check: status, points, and the *message class* (the message with
    its numbers blanked, so that the same bug reads the same for every student);
``gradescope_scores.csv``
    the shape Gradescope's score upload takes (name, SID, email, total);
``report.md`` and ``report.html``
    grader errors first (they are the grader's fault), the score distribution per part, each
    check's share of passed / failed / skipped / error, its most common failure messages with
    counts and a few students as examples, the checks that do not tell students apart (the
    whole class passed or failed them), and the slowest submissions. The HTML file is
    self-contained (its charts are embedded PNGs, drawn with matplotlib) and opens offline.

Every figure in the report is computed here from the results files, nothing else; a test
recomputes the pass rates from the files and compares.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from grader.registry import number_key

__all__ = ["Student", "CheckRow", "SubmissionRecord", "CheckSummary", "ClassSummary", "read_metadata",
           "read_record", "summarize", "message_class", "write_all", "METADATA_FILE"]

METADATA_FILE = "submission_metadata.yml"
OUTCOMES = ("passed", "failed", "skipped", "error")
EXAMPLES = 3          # students named per failure message
TOP_MESSAGES = 5      # failure messages listed per check
SLOWEST = 5


@dataclass(frozen=True)
class Student:
    name: str
    email: str = ""
    sid: str = ""

    @property
    def label(self) -> str:
        return self.name or self.email or self.sid or "(unnamed)"


@dataclass(frozen=True)
class CheckRow:
    key: str           # "<part>.<check id>"
    number: str
    title: str
    outcome: str       # passed / failed / skipped / error
    score: float
    max_score: float
    message: str

    @property
    def part(self) -> str:
        return self.key.split(".", 1)[0]


@dataclass
class SubmissionRecord:
    submission: str                     # the folder (or zip) name in the export
    students: list[Student]
    status: str                         # grade-all's status: graded, grader error, invalid zip
    score: float | None
    max_score: float | None
    seconds: float
    checks: list[CheckRow] = field(default_factory=list)
    detail: str = ""

    @property
    def grader_errors(self) -> list[CheckRow]:
        return [c for c in self.checks if c.outcome == "error"]


# ----------------------------------------------------------------------------- reading


def _plain(key: Any) -> str:
    """Gradescope writes Ruby symbols as keys (``:submitters``): the name without its colon."""
    return str(key).lstrip(":")


def read_metadata(folder: Path) -> dict[str, list[Student]]:
    """Submission folder name -> its submitters, from the export's ``submission_metadata.yml``;
    empty when the folder is not an export. Raises ValueError for a file that is not the export's."""
    path = folder / METADATA_FILE
    if not path.is_file():
        return {}
    try:
        import yaml
    except ImportError as exc:  # said in words: the instructor installs it or grades without names
        raise ValueError(f"{path} needs PyYAML to be read (pip install pyyaml)") from exc
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path} does not map submissions to their submitters")
    out: dict[str, list[Student]] = {}
    for name, entry in doc.items():
        entry = {_plain(k): v for k, v in entry.items()} if isinstance(entry, dict) else {}
        students = []
        for person in entry.get("submitters") or []:
            if isinstance(person, dict):
                person = {_plain(k): v for k, v in person.items()}
                students.append(Student(str(person.get("name") or ""), str(person.get("email") or ""),
                                        str(person.get("sid") or "")))
        out[str(name)] = students
    return out


def read_record(submission: str, students: list[Student], status: str, seconds: float, results: Path,
                detail: str = "") -> SubmissionRecord:
    """A submission's record from its ``results.json`` (checks without a check id, such as the
    intake's "Submission files", keep their title as key)."""
    record = SubmissionRecord(submission, students, status, None, None, seconds, detail=detail)
    try:
        doc = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return record
    if not isinstance(doc, dict):
        return record
    for t in doc.get("tests") or []:
        if not isinstance(t, dict):
            continue
        extra = t.get("extra_data") or {}
        if str(t.get("name", "")).startswith("Staff only"):
            continue
        record.checks.append(CheckRow(
            key=str(extra.get("check") or t.get("name") or "?"), number=str(t.get("number") or ""),
            title=str(t.get("name") or ""), outcome=str(extra.get("outcome") or t.get("status") or "failed"),
            score=float(t.get("score") or 0.0), max_score=float(t.get("max_score") or 0.0),
            message=str(t.get("output") or "")))
    if status == "graded":
        record.score = float(doc.get("score", sum(c.score for c in record.checks)))
        record.max_score = float(doc.get("max_score", sum(c.max_score for c in record.checks)))
    return record


_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?")


def message_class(message: str) -> str:
    """The message a check gave, with what differs between students blanked: numbers become ``#``,
    the student's printed output and tracebacks are dropped; the same bug reads the same."""
    text = message.split("\nYour code printed:", 1)[0]
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith(("  File ", "    "))]
    text = " ".join(lines[:2]) if lines else ""
    text = re.sub(r"\s+", " ", _NUMBER.sub("#", text)).strip()
    return text[:240] or "(no message)"


# ----------------------------------------------------------------------------- figures


@dataclass
class CheckSummary:
    key: str
    number: str
    title: str
    max_score: float
    counts: Counter[str] = field(default_factory=Counter)          # outcome -> submissions
    messages: dict[str, list[str]] = field(default_factory=dict)  # failure class -> submissions

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def share(self, outcome: str) -> float:
        return self.counts[outcome] / self.total if self.total else 0.0

    @property
    def tells_apart(self) -> bool:
        """False when every graded submission got the same outcome (all passed, or none did)."""
        return not (self.counts["passed"] in (0, self.total))


@dataclass
class ClassSummary:
    records: list[SubmissionRecord]
    checks: list[CheckSummary]
    parts: dict[str, list[tuple[float, float]]]   # part -> (score, max) per graded submission

    @property
    def graded(self) -> list[SubmissionRecord]:
        return [r for r in self.records if r.status == "graded"]


def summarize(records: list[SubmissionRecord]) -> ClassSummary:
    """Per-check outcome counts and failure classes, and per-part scores, over the graded submissions."""
    checks: dict[str, CheckSummary] = {}
    parts: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        if r.status != "graded":
            continue
        per_part: dict[str, list[float]] = {}
        for c in r.checks:
            s = checks.setdefault(c.key, CheckSummary(c.key, c.number, c.title, c.max_score))
            s.counts[c.outcome] += 1
            if c.outcome in ("failed", "error"):
                s.messages.setdefault(message_class(c.message), []).append(r.submission)
            if "." in c.key:  # a check of a part (not the intake's "Submission files")
                sums = per_part.setdefault(c.part, [0.0, 0.0])
                sums[0] += c.score
                sums[1] += c.max_score
        for part, (earned, most) in per_part.items():
            if most > 0:
                parts.setdefault(part, []).append((earned, most))
    ordered = sorted(checks.values(), key=lambda s: (number_key(s.number), s.key))
    return ClassSummary(records, ordered, parts)


# ----------------------------------------------------------------------------- files


def _people(r: SubmissionRecord) -> list[Student]:
    return r.students or [Student(r.submission)]


def write_atomic(path: Path, text: str) -> None:
    """``text`` into ``path`` through a temporary file and a rename: a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _csv(rows: Iterable[list[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def scores_table(summary: ClassSummary) -> list[list[Any]]:
    """scores.csv: one row per student; total, per part, per check (points)."""
    part_names = sorted(summary.parts, key=lambda p: min((number_key(s.number) for s in summary.checks
                                                          if s.key.startswith(p + ".")), default=()))
    header = (["submission", "name", "email", "sid", "score", "max_score", "status", "seconds"]
              + [f"part:{p}" for p in part_names] + [f"{s.number} {s.key.split('.', 1)[-1]}".strip()
                                                     for s in summary.checks])
    rows = [header]
    for r in sorted(summary.records, key=lambda r: r.submission):
        by_key = {c.key: c for c in r.checks}
        per_part = {p: sum(c.score for c in r.checks if c.part == p) for p in part_names}
        graded = r.status == "graded"
        cells = ([_fmt(per_part[p]) if graded and any(c.part == p for c in r.checks) else "" for p in part_names]
                 + [_fmt(by_key[s.key].score) if graded and s.key in by_key else "" for s in summary.checks])
        for person in _people(r):
            rows.append([r.submission, person.name, person.email, person.sid, _fmt(r.score), _fmt(r.max_score),
                         r.status, f"{r.seconds:.1f}"] + cells)
    return rows


def long_table(summary: ClassSummary) -> list[list[Any]]:
    """results_long.csv: one row per student and check."""
    rows = [["submission", "name", "email", "sid", "part", "check", "number", "title", "status", "points",
             "max_points", "message_class"]]
    for r in sorted(summary.records, key=lambda r: r.submission):
        for person in _people(r):
            for c in r.checks:
                rows.append([r.submission, person.name, person.email, person.sid, c.part, c.key, c.number, c.title,
                             c.outcome, _fmt(c.score), _fmt(c.max_score),
                             message_class(c.message) if c.outcome in ("failed", "error") else ""])
    return rows


def gradescope_table(summary: ClassSummary) -> list[list[Any]]:
    """gradescope_scores.csv: what Gradescope's score upload reads (one student per row)."""
    rows = [["Name", "SID", "Email", "Total Score"]]
    for r in sorted(summary.records, key=lambda r: r.submission):
        if r.status != "graded" or not r.students:
            continue
        for person in r.students:
            rows.append([person.name, person.sid, person.email, _fmt(r.score)])
    return rows


def _examples(summary: ClassSummary, submissions: list[str]) -> str:
    names = {r.submission: ", ".join(p.label for p in _people(r)) for r in summary.records}
    shown = [names.get(s, s) for s in submissions[:EXAMPLES]]
    more = len(submissions) - len(shown)
    return "; ".join(shown) + (f" and {more} more" if more > 0 else "")


def markdown(summary: ClassSummary) -> str:
    graded = summary.graded
    lines = ["# Class report", "",
             f"{len(summary.records)} submissions, {len(graded)} graded, "
             f"{sum(len(_people(r)) for r in summary.records)} students.", ""]
    errors = [(r, c) for r in summary.records for c in r.grader_errors]
    broken = [r for r in summary.records if r.status != "graded"]
    lines += ["## Grader errors (the grader's fault, not the students')", ""]
    if not errors and not broken:
        lines += ["None.", ""]
    for r in broken:
        lines.append(f"- {r.submission} ({_examples(summary, [r.submission])}): {r.status}"
                     + (f": {r.detail}" if r.detail else ""))
    for r, c in errors:
        lines.append(f"- {r.submission} ({_examples(summary, [r.submission])}): {c.number} {c.title}")
    lines += ["", "## Scores per part", "", "| part | submissions | mean | min | median | max | out of |",
              "|---|---|---|---|---|---|---|"]
    for part, values in summary.parts.items():
        scores = sorted(v for v, _ in values)
        lines.append(f"| {part} | {len(scores)} | {sum(scores) / len(scores):.1f} | {scores[0]:g} | "
                     f"{scores[len(scores) // 2]:g} | {scores[-1]:g} | {max(m for _, m in values):g} |")
    lines += ["", "## Checks", "", "| # | check | passed | failed | skipped | error | tells students apart |",
              "|---|---|---|---|---|---|---|"]
    for s in summary.checks:
        lines.append(f"| {s.number} | {s.title} | {s.share('passed'):.0%} | {s.share('failed'):.0%} | "
                     f"{s.share('skipped'):.0%} | {s.share('error'):.0%} | {'yes' if s.tells_apart else 'NO'} |")
    same = [s for s in summary.checks if not s.tells_apart]
    lines += ["", "## Checks that do not tell students apart", ""]
    lines += [f"- {s.number} {s.title}: {'every' if s.counts['passed'] else 'no'} submission passed"
              for s in same] or ["None."]
    lines += ["", "## Most common failures per check", ""]
    for s in summary.checks:
        if not s.messages:
            continue
        lines.append(f"### {s.number} {s.title}")
        lines.append("")
        for text, subs in sorted(s.messages.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:TOP_MESSAGES]:
            lines.append(f"- {len(subs)} x {text}  \n  e.g. {_examples(summary, subs)}")
        lines.append("")
    lines += ["## Slowest submissions", "", "| submission | students | seconds |", "|---|---|---|"]
    for r in sorted(summary.records, key=lambda r: -r.seconds)[:SLOWEST]:
        lines.append(f"| {r.submission} | {_examples(summary, [r.submission])} | {r.seconds:.1f} |")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- HTML


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def charts(summary: ClassSummary) -> dict[str, str]:
    """Base64 PNGs: the score distribution per part and each check's outcome shares ({} without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    out: dict[str, str] = {}
    if summary.parts:
        fig, axes = plt.subplots(1, len(summary.parts), figsize=(4 * len(summary.parts), 3), squeeze=False)
        for ax, (part, values) in zip(axes[0], summary.parts.items()):
            most = max(m for _, m in values)
            ax.hist([v for v, _ in values], bins=min(20, max(5, len(values))), range=(0, most), color="#3b6ea8")
            ax.set_title(part)
            ax.set_xlabel(f"points (of {most:g})")
            ax.set_ylabel("submissions")
        out["scores"] = _png(fig)
        plt.close(fig)
    if summary.checks:
        fig, ax = plt.subplots(figsize=(9, 0.28 * len(summary.checks) + 1))
        labels = [f"{s.number} {s.title[:50]}" for s in summary.checks]
        left = [0.0] * len(summary.checks)
        colours = {"passed": "#4a9a5b", "failed": "#c0504d", "skipped": "#b0b0b0", "error": "#7b3fa0"}
        for outcome in OUTCOMES:
            shares = [s.share(outcome) for s in summary.checks]
            ax.barh(labels, shares, left=left, color=colours[outcome], label=outcome)
            left = [a + b for a, b in zip(left, shares)]
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of graded submissions")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.5 / max(1, len(summary.checks)) - 0.08), ncol=4,
                  fontsize=8, frameon=False)
        out["checks"] = _png(fig)
        plt.close(fig)
    return out


def html_report(summary: ClassSummary) -> str:
    """report.html: the Markdown report's figures, with the charts embedded (opens offline)."""
    images = charts(summary)
    body = []
    for line in markdown(summary).splitlines():
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            title = line[3:]
            body.append(f"<h2>{html.escape(title)}</h2>")
            if title == "Scores per part" and "scores" in images:
                body.append(f'<img alt="score distribution per part" src="data:image/png;base64,{images["scores"]}">')
            if title == "Checks" and "checks" in images:
                body.append(f'<img alt="outcome shares per check" src="data:image/png;base64,{images["checks"]}">')
        elif line.startswith("### "):
            body.append(f"<h3>{html.escape(line[4:])}</h3>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        elif line.startswith("- "):
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.startswith("  e.g."):
            body.append(f"<div class='eg'>{html.escape(line.strip())}</div>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    text = "\n".join(body)
    # consecutive table rows and list items into tables and lists
    text = re.sub(r"((?:<tr>.*</tr>\n?)+)", lambda m: "<table>\n" + m.group(1) + "</table>\n", text)
    text = re.sub(r"((?:<li>.*</li>\n?(?:<div class='eg'>.*</div>\n?)?)+)", lambda m: "<ul>\n" + m.group(1) + "</ul>\n",
                  text)
    missing = "" if images else "<p><em>Charts need matplotlib (pip install matplotlib).</em></p>"
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td{border:1px solid #ccc;padding:3px 8px}"
             "tr:first-child td{font-weight:bold;background:#eee}.eg{color:#666;font-size:90%}"
             "img{max-width:100%;margin:1em 0}")
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>Class report</title>"
            f"<style>{style}</style></head><body>\n{missing}{text}\n</body></html>\n")


def write_tables(records: list[SubmissionRecord], output: Path) -> ClassSummary:
    """The CSVs (cheap: written after every submission a batch finishes)."""
    summary = summarize(records)
    write_atomic(output / "scores.csv", _csv(scores_table(summary)))
    write_atomic(output / "results_long.csv", _csv(long_table(summary)))
    write_atomic(output / "gradescope_scores.csv", _csv(gradescope_table(summary)))
    return summary


def write_all(records: list[SubmissionRecord], output: Path) -> ClassSummary:
    """Every file of the class report, into ``output``: the CSVs, report.md and report.html."""
    summary = write_tables(records, output)
    write_atomic(output / "report.md", markdown(summary))
    write_atomic(output / "report.html", html_report(summary))
    return summary
