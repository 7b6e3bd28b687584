"""A full grading run of the complete reference submission inside Gradescope's default budget.

Run (as root, needs a writable cgroup): .venv/bin/python bench/full_grading.py [--runs 3]

Builds the demo submission (every part's reference module and artifacts), then grades it
with `python -m grader grade` inside ../shared/tools/gradescope-box (768 MB, 0.5 CPU) and
prints wall time, peak memory, OOM kills and the score of each run. Target: under 3 minutes,
no OOM kill, full marks.
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOX = REPO.parent / "shared" / "tools" / "gradescope-box"
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mem", type=int, default=768)
    ap.add_argument("--cpus", type=float, default=0.5)
    args = ap.parse_args()
    from grader.demo import build_submission

    folder = build_submission()
    out = Path(tempfile.mkdtemp())
    try:
        for i in range(args.runs):
            results = out / f"results{i}.json"
            cmd = [str(BOX), "--mem", str(args.mem), "--cpus", str(args.cpus), "--",
                   sys.executable, "-m", "grader", "grade", "--submission", str(folder), "--results", str(results)]
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
            line = next((l for l in proc.stderr.splitlines() if l.startswith("gradescope-box:")), "gradescope-box: ?")
            doc = json.loads(results.read_text()) if results.exists() else {}
            tests = [t for t in doc.get("tests", []) if t.get("visibility") != "hidden"]
            max_score = sum(t.get("max_score", 0) for t in tests)
            not_passed = [t["name"] for t in tests if t.get("status") != "passed"]
            print(f"run {i + 1}: {line.removeprefix('gradescope-box: ')} score={doc.get('score')}/{max_score:g}"
                  + (f" not passed: {not_passed}" if not_passed else ""))
            slow = sorted(tests, key=lambda t: -t.get("extra_data", {}).get("seconds", 0))[:5]
            if i == 0:
                print("  slowest checks: " + ", ".join(f"{t['name'][:40]} {t['extra_data']['seconds']:.1f}s"
                                                       for t in slow))
            m = re.search(r"wall_s=([\d.]+)", line)
            if m and float(m.group(1)) > 180:
                print("  over the 3-minute target")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
