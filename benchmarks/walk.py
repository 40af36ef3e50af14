"""The walk of one recording from EDF path to map point (issue 13), measured and recorded.

Runs ``tests/test_walk.py``'s measurement (the README's three own-cohort commands on six short
real recordings, every ``clef/`` file on the call stack when something happens to the recording
or what is made from it) and writes the files, milestones, decodes per recording and file opens
as a markdown table. ``tests/test_walk.py`` holds the same numbers as tests (at most 12 files,
one decode per recording end to end); this script records them in ``benchmarks/results/``.

Usage: ``python benchmarks/walk.py [--out benchmarks/results/walk.md]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMANDS = {"cohort": "cohort build"}  # the measurement's command keys -> what the user types


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="markdown file (default: print)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="clef-walk-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run([sys.executable, str(REPO / "tests" / "test_walk.py"), tmp], cwd=REPO,
                       env=env, check=True, capture_output=True, text=True, timeout=900)
        walk = json.loads((Path(tmp) / "walk.json").read_text())
    rows = [f"| `clef/{f}` | {', '.join(ms)} |" for f, ms in walk["files"].items()]
    command = (f"Command: `python benchmarks/walk.py`, {dt.date.today().isoformat()} (the "
               "measurement of `tests/test_walk.py`: `clef cohort build`, `clef embed "
               "--scheduler none`, `clef index` on six 30-s crops of the shipped EEGMMIDB runs).")
    n = len(walk["files"])
    lines = [f"# The walk of one recording, from EDF path to map point ({n} files)", "", command,
             "", "| file | command:milestone |", "|---|---|", *rows, "",
             "| command | decodes per recording | file opens per recording | exit code |",
             "|---|---|---|---|",
             *[f"| `clef {COMMANDS.get(c, c)}` | {sorted(set(walk['decodes'][c]))} | "
               f"{sorted(set(walk['opens'][c]))} | {walk['exit_codes'][c]} |"
               for c in walk["exit_codes"]], ""]
    text = "\n".join(lines)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
