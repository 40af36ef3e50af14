"""End-to-end ingest speed: ``clef cohort build`` + ``clef embed`` on ten-minute EDF recordings.

Setup (not timed): ``clef synth --signals edf`` writes N ten-minute EDFs; they are hard-linked into
a plain folder under new names (``rec_000.edf`` ...), so ``clef cohort build`` meets them as a
user's folder of recordings (no synth tables beside them; the cohort reader's generic EDF path).

Timed, as a user runs them (separate processes: interpreter start-up, imports and model load
included), for each scheduler:

    clef cohort build --recordings REC --out COHORT --quiet [--no-check]
    clef embed --cohort COHORT --scheduler S --quiet

Also, in this process, the per-session cost of each step on one core (median of a few files):
the build's signal check (``summarize``: one decode at the recorded rate), the embed's read
(``read_session`` at the tokenizer's 200 Hz: decode, harmonize, filter, resample, reference), and
tokenize + encode (``embed_sessions``). Their sum bounds what two cores can do.

Run: ``nice -n 10 .venv/bin/python benchmarks/ingest.py`` (writes ``benchmarks/results/ingest.md``;
``--n-sessions``, ``--schedulers none,local,auto``).
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "ingest.md"
CLEF = Path(sys.executable).with_name("clef")
TARGET = 10.0  # ten-minute sessions per second, end to end, on 2 cores


def make_recordings(work: Path, n: int, minutes: float, seed: int) -> Path:
    """N ten-minute EDFs from ``clef synth --signals edf``, hard-linked into ``work/recordings``."""
    synth = work / "synth"
    subprocess.run([str(CLEF), "synth", "--n-sessions", str(n), "--out", str(synth), "--seed",
                    str(seed), "--minutes", str(minutes), "--signals", "edf"],
                   check=True, capture_output=True)
    rec = work / "recordings"
    rec.mkdir()
    for i, f in enumerate(sorted((synth / "recordings").glob("*.edf"))):
        os.link(f, rec / f"rec_{i:03d}.edf")
    return rec


def _run(args: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([str(CLEF), *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"clef {' '.join(args)} failed:\n{res.stdout[-2000:]}\n"
                           f"{res.stderr[-2000:]}")
    return time.perf_counter() - t0


def end_to_end(rec: Path, work: Path, scheduler: str, check: bool) -> dict:
    """Time ``clef cohort build`` then ``clef embed`` (fresh folders) with one scheduler."""
    tag = f"{scheduler}-{'check' if check else 'nocheck'}"
    cohort = work / f"cohort-{tag}"
    build = _run(["cohort", "build", "--recordings", str(rec), "--out", str(cohort), "--quiet",
                  *([] if check else ["--no-check"])])
    embed = _run(["embed", "--cohort", str(cohort), "--scheduler", scheduler, "--quiet"])
    import json

    run = json.loads((cohort / "store" / "manifest.json").read_text()).get("run", {})
    return {"scheduler": scheduler, "check": check, "build_s": build, "embed_s": embed,
            "total_s": build + embed, "embedded": run.get("sessions_embedded"),
            "embed_work_s": run.get("seconds")}


def stage_costs(rec: Path, k: int = 5) -> dict:
    """Median per-session seconds of each step, one torch thread, in this process."""
    import torch

    from clef.embed import load_model
    from clef.embedding import embed_sessions, tokenizer_sfreq
    from clef.io import read_session
    from clef.io.summary import summarize

    torch.set_num_threads(1)
    model = load_model("clef-tiny")
    sfreq = tokenizer_sfreq(model)
    files = sorted(rec.glob("*.edf"))[:k + 1]
    summarize(files[0])  # warm-up: imports, numba/MNE caches
    embed_sessions(model, [read_session(files[0], sfreq=sfreq)])
    cost = {"check (summarize)": [], "read at 200 Hz": [], "tokenize + encode": []}
    for f in files[1:]:
        t0 = time.perf_counter()
        summarize(f)
        t1 = time.perf_counter()
        s = read_session(f, sfreq=sfreq)
        t2 = time.perf_counter()
        embed_sessions(model, [s])
        t3 = time.perf_counter()
        cost["check (summarize)"].append(t1 - t0)
        cost["read at 200 Hz"].append(t2 - t1)
        cost["tokenize + encode"].append(t3 - t2)
    out = {name: statistics.median(v) for name, v in cost.items()}
    out["rate_hz"] = float(read_session(files[1], sfreq=None).sfreq)  # of one file
    return out


def report(args, costs: dict, runs: list[dict], load: tuple, n: int) -> str:
    """The markdown written to ``benchmarks/results/ingest.md``."""
    per = sum(v for k, v in costs.items() if k != "rate_hz")
    lines = [
        "# Ingest benchmark: `clef cohort build` + `clef embed`, ten-minute EDF recordings", "",
        (f"Command: `python benchmarks/ingest.py --n-sessions {n} --schedulers "
         f"{args.schedulers}`  "),
        (f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, python "
         f"{platform.python_version()}  "),
        (f"Load average at start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared "
         "machine: other jobs' load makes wall-clock numbers pessimistic)  "),
        (f"Data: {n} recordings of {args.minutes:g} min, 19 channels, "
         f"{costs['rate_hz']:g} Hz EDF (written by `clef synth --signals edf`, hard-linked under "
         "new names into a plain folder). Model: shipped clef-tiny."), "",
        "## Per-session cost of each step (one core, median of 5 files)", "",
        "| step | seconds |", "|---|---|",
        *[f"| {k} | {v:.3f} |" for k, v in costs.items() if k != "rate_hz"],
        f"| **sum** | **{per:.3f}** |", "",
        (f"Two idle cores at this cost give at most {2 / per:.1f} sessions/s (with the check) or "
         f"{2 / (per - costs['check (summarize)']):.1f} sessions/s (`--no-check`), before "
         "process start-up, imports and the model load."), "",
        "## End to end (separate `clef` processes, as a user runs them)", "",
        "| scheduler | build check | build s | embed s | total s | sessions/s | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rate = n / r["total_s"]
        lines.append(f"| `{r['scheduler']}` | {'yes' if r['check'] else 'no'} | "
                     f"{r['build_s']:.1f} | {r['embed_s']:.1f} | {r['total_s']:.1f} | "
                     f"{rate:.2f} | {'PASS' if rate >= TARGET else 'MISS'} (>= {TARGET:g}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-sessions", type=int, default=40)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--schedulers", default="none,local")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="clef-ingest-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        rec = make_recordings(work, args.n_sessions, args.minutes, args.seed)
        print(f"setup: {args.n_sessions} recordings in {time.perf_counter() - t0:.1f} s",
              flush=True)
        costs = stage_costs(rec)
        print({k: round(v, 3) for k, v in costs.items()}, flush=True)
        runs = []
        for sched in args.schedulers.split(","):
            for check in (True, False):
                r = end_to_end(rec, work, sched, check)
                print(r, f"{args.n_sessions / r['total_s']:.2f} sessions/s", flush=True)
                runs.append(r)
    text = report(args, costs, runs, load, args.n_sessions)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
