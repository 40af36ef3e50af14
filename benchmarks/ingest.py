"""End-to-end ingest speed: ``clef cohort build`` + ``clef embed`` on ten-minute EDF recordings.

Setup (not timed): ``clef synth --signals edf`` writes N ten-minute EDFs; they are hard-linked into
a plain folder under new names (``rec_000.edf`` ...), so ``clef cohort build`` meets them as a
user's folder of recordings (no synth tables beside them; the cohort reader's generic EDF path).

Timed, as a user runs them (separate processes: interpreter start-up, imports and model load
included), for each scheduler:

    clef cohort build --recordings REC --out COHORT --quiet [--check]
    clef embed --cohort COHORT --scheduler S --quiet

Each command's wall time and CPU time (user + system of the child process, from
``getrusage``) are recorded: on a shared machine the wall time depends on the other jobs, the CPU
time does not.

Also, in this process:

- the per-session CPU cost of each step on one thread (``time.thread_time``, median of a few
  files): the build's optional signal check (``summarize``, ``--check``: one decode at the
  recorded rate), the embed's read (``read_session`` at the tokenizer's 200 Hz: decode,
  harmonize, filter, resample, reference), tokenize (multitaper), encode (batches of 8); their
  sum bounds what two cores can do;
- the start-up of one ``clef`` process that embeds (imports, model load), paid twice end to end;
- the embed step (``embed_cohort``, model loaded) with the plain path (``read_threads=0``: read,
  tokenize and encode in turn) and with the read-ahead threads (the default), and the largest
  difference between their embeddings (must be 0 or float32 noise), and the forked worker
  processes that ``--scheduler auto`` picks on this machine.

Run: ``nice -n 10 .venv/bin/python benchmarks/ingest.py`` (writes ``benchmarks/results/ingest.md``;
``--n-sessions``, ``--schedulers none,processes,local``, ``--out``; ``--sizes 200,1000`` adds the
defaults end to end on folders of that many sessions, to separate start-up from per-session cost).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
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


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _run(args: list[str]) -> tuple[float, float]:
    """Run ``clef ARGS``; -> (wall seconds, CPU seconds of the process and its children)."""
    t0, c0 = time.perf_counter(), _child_cpu()
    res = subprocess.run([str(CLEF), *args], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"clef {' '.join(args)} failed:\n{res.stdout[-2000:]}\n"
                           f"{res.stderr[-2000:]}")
    return time.perf_counter() - t0, _child_cpu() - c0


def end_to_end(rec: Path, work: Path, scheduler: str, check: bool) -> dict:
    """Time ``clef cohort build`` then ``clef embed`` (fresh folders) with one scheduler."""
    tag = f"{scheduler}-{'check' if check else 'nocheck'}"
    cohort = work / f"cohort-{tag}"
    build, build_cpu = _run(["cohort", "build", "--recordings", str(rec), "--out", str(cohort),
                             "--quiet", *(["--check"] if check else [])])
    embed, embed_cpu = _run(["embed", "--cohort", str(cohort), "--scheduler", scheduler,
                             "--quiet"])
    run = json.loads((cohort / "store" / "manifest.json").read_text()).get("run", {})
    return {"scheduler": scheduler, "check": check, "build_s": build, "embed_s": embed,
            "total_s": build + embed, "build_cpu_s": build_cpu, "embed_cpu_s": embed_cpu,
            "embedded": run.get("sessions_embedded"), "embed_work_s": run.get("seconds")}


def linked_folder(rec: Path, work: Path, n: int) -> Path:
    """A folder of ``n`` recordings: ``rec``'s files hard-linked in turn under new names."""
    files = sorted(rec.glob("*.edf"))
    out = work / f"recordings-{n}"
    out.mkdir()
    for i in range(n):
        os.link(files[i % len(files)], out / f"rec_{i:05d}.edf")
    return out


def scaling(rec: Path, work: Path, sizes: list[int], repeats: int) -> list[dict]:
    """End to end with the defaults (``--scheduler auto``, no ``--check``) on folders of each
    size, ``repeats`` times, sizes alternating (the host's speed drifts)."""
    folders = {n: linked_folder(rec, work, n) for n in sizes}
    runs = []
    for i in range(repeats):
        for n in sizes:
            r = end_to_end(folders[n], work / f"scale-{n}-{i}", "auto", False)
            r["n"] = n
            print(r, f"{n / r['total_s']:.2f} sessions/s", flush=True)
            runs.append(r)
    return runs


def scaling_lines(runs: list[dict]) -> list[str]:
    """The scaling table, and the fixed and per-session wall cost of a least-squares line."""
    import numpy as np

    lines = ["", "## End to end by folder size (defaults: `--scheduler auto`, no `--check`)", "",
             ("| sessions | build s | embed s | total s | CPU s (build + embed) | sessions/s | "
             "target |"), "|---|---|---|---|---|---|---|"]
    for r in runs:
        rate = r["n"] / r["total_s"]
        lines.append(f"| {r['n']} | {r['build_s']:.1f} | {r['embed_s']:.1f} | "
                     f"{r['total_s']:.1f} | {r['build_cpu_s']:.1f} + {r['embed_cpu_s']:.1f} | "
                     f"{rate:.2f} | {'PASS' if rate >= TARGET else 'MISS'} (>= {TARGET:g}) |")
    n = np.array([r["n"] for r in runs], float)
    t = np.array([r["total_s"] for r in runs])
    if len(set(n)) > 1:
        per, fixed = np.polyfit(n, t, 1)
        lines += ["", (f"Least-squares line through these runs: {fixed:.1f} s fixed (start-up of "
                      f"the two commands) + {per * 1000:.1f} ms wall per session, i.e. "
                      f"{1 / per:.1f} sessions/s once the start-up is paid.")]
    return lines


def stage_costs(rec: Path, k: int = 10) -> dict:
    """Mean per-session CPU seconds of each step on one thread (one torch thread), here, over
    ``k`` files spread over the folder (their recorded rates differ: some are resampled)."""
    import torch

    from clef.embed import load_model
    from clef.embedding import embed_sessions, model_input, tokenizer_sfreq
    from clef.io import read_session, summarize

    torch.set_num_threads(1)
    model = load_model("clef-tiny")
    sfreq = tokenizer_sfreq(model)
    everything = sorted(rec.glob("*.edf"))
    files = everything[:: max(1, len(everything) // (k + 1))][:k + 1]
    summarize(files[0])  # warm-up: imports, numba/MNE caches
    embed_sessions(model, [read_session(files[0], sfreq=sfreq)])
    cost = {"check (summarize, --check only)": [], "read at 200 Hz": [], "tokenize": [],
            "encode": []}
    tokens = []
    for f in files[1:]:
        t0 = time.thread_time()
        summarize(f, check=True)
        t1 = time.thread_time()
        s = read_session(f, sfreq=sfreq)
        t2 = time.thread_time()
        with torch.no_grad():
            tokens.append(model.tokenizer.tokenize([model_input(model, s)]))
        t3 = time.thread_time()
        cost["check (summarize, --check only)"].append(t1 - t0)
        cost["read at 200 Hz"].append(t2 - t1)
        cost["tokenize"].append(t3 - t2)
    t0 = time.thread_time()
    embed_sessions(model, tokens, batch_size=8)
    cost["encode"] = [(time.thread_time() - t0) / len(tokens)]
    out = {name: statistics.mean(v) for name, v in cost.items()}
    out["rates"] = sorted({round(summarize(f, check=False)["sfreq"]) for f in everything})
    return out


def startup_s() -> float:
    """Wall seconds for a fresh process to import clef embed's modules and load the model."""
    code = ("import clef.cli, scipy.signal, mne; from clef.embed import load_model; "
            "load_model('clef-tiny')")
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def embed_paths(rec: Path, work: Path) -> dict:
    """The embed step from this process (model loaded): plain path, read-ahead threads, forked
    worker processes."""
    import numpy as np

    from clef.embed import EmbedConfig, embed_cohort

    cohort = work / "cohort-inprocess"
    subprocess.run([str(CLEF), "cohort", "build", "--recordings", str(rec), "--out", str(cohort),
                    "--quiet", "--no-check"], check=True, capture_output=True)
    out, vectors = {}, {}
    for name, scheduler, threads in (("one process, plain (read_threads=0)", "none", 0),
                                     ("one process, read-ahead threads", "none", None),
                                     ("forked worker processes (default)", "processes", None)):
        t0, c0 = time.perf_counter(), _cpu_all()
        st = embed_cohort(cohort, "clef-tiny", work / f"store-{scheduler}-{threads}", EmbedConfig(
            scheduler=scheduler, progress=False, read_threads=threads))
        out[name] = (time.perf_counter() - t0, _cpu_all() - c0, len(st))
        vectors[name] = np.asarray(st.embeddings)
    first, *others = vectors.values()
    out["max_abs_diff"] = max(float(np.abs(first - v).max()) for v in others)
    return out


def _cpu_all() -> float:
    """CPU seconds of this process and of its finished children (forked workers)."""
    return time.process_time() + _child_cpu()


def report(args, costs: dict, start: float, paths: dict, runs: list[dict], load: tuple,
           n: int) -> str:
    """The markdown written to ``benchmarks/results/ingest.md`` (numbers only; the summary above
    them is written by hand from them)."""
    steps = {k: v for k, v in costs.items() if k != "rates"}
    per = sum(steps.values())
    lines = [
        "# Ingest benchmark: `clef cohort build` + `clef embed`, ten-minute EDF recordings", "",
        (f"Command: `.venv/bin/python benchmarks/ingest.py --n-sessions {n} "
         f"--schedulers {args.schedulers}"
         f"{f' --sizes {args.sizes} --repeats {args.repeats}' if args.sizes else ''}"
         f"{' --recordings R' if args.recordings else ''}{' --append' if args.append else ''}`  "),
        (f"Machine: {platform.platform()}, {os.cpu_count()} CPU cores, python "
         f"{platform.python_version()}  "),
        (f"Load average at start: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (shared "
         "machine: other jobs' load makes wall-clock numbers pessimistic; CPU seconds are not "
         "affected)  "),
        (f"Data: {n} recordings of {args.minutes:g} min, 19 channels, "
         f"{' or '.join(str(r) for r in costs['rates'])} Hz EDF (written by `clef synth --signals edf`, hard-linked under "
         "new names into a plain folder). Model: shipped clef-tiny."), "",
        "## Per-session CPU cost of each step (one thread, mean of 10 files)", "",
        "| step | CPU seconds |", "|---|---|",
        *[f"| {k} | {v:.3f} |" for k, v in steps.items()],
        f"| **sum** | **{per:.3f}** |", "",
        (f"Two idle cores at this cost give at most {2 / per:.1f} sessions/s (with `--check`) or "
         f"{2 / (per - costs['check (summarize, --check only)']):.1f} sessions/s (the default), before "
         f"process start-up: {start:.1f} s of wall time for one fresh process to import "
         "clef, torch and scipy.signal and load the model (paid by `clef embed`; "
         "`clef cohort build` pays most of it too)."), "",
        f"## Embed step in this process (model loaded, {n} sessions)", "",
        "| path | wall s | CPU s | CPU s / session | sessions/s (wall) |", "|---|---|---|---|---|",
    ]
    for name, v in paths.items():
        if name != "max_abs_diff":
            wall, cpu, k = v
            lines.append(f"| {name} | {wall:.1f} | {cpu:.1f} | {cpu / k:.3f} | {k / wall:.2f} |")
    lines += [
        "", f"Largest |difference| between the paths' embeddings: {paths['max_abs_diff']:.3g}",
        "", "## End to end (separate `clef` processes, as a user runs them)", "",
        ("| scheduler | build check | build s | embed s | total s | CPU s (build + embed) | "
         "CPU s / session | sessions/s | target |"),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        rate = n / r["total_s"]
        cpu = r["build_cpu_s"] + r["embed_cpu_s"]
        lines.append(f"| `{r['scheduler']}` | {'yes' if r['check'] else 'no'} | "
                     f"{r['build_s']:.1f} | {r['embed_s']:.1f} | {r['total_s']:.1f} | "
                     f"{r['build_cpu_s']:.1f} + {r['embed_cpu_s']:.1f} | {cpu / n:.3f} | "
                     f"{rate:.2f} | {'PASS' if rate >= TARGET else 'MISS'} (>= {TARGET:g}) |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-sessions", type=int, default=40)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--schedulers", default="none,processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--recordings", type=Path, default=None,
                    help="an existing folder of EDFs made as below (skips the setup)")
    ap.add_argument("--sizes", default="",
                    help="also end to end with the defaults on folders of these many sessions "
                         "(comma-separated; the recordings hard-linked in turn), e.g. 200,1000")
    ap.add_argument("--repeats", type=int, default=2, help="runs per size of --sizes")
    ap.add_argument("--append", action="store_true",
                    help="add this run's report below what --out holds instead of replacing it")
    args = ap.parse_args()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="clef-ingest-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        rec = args.recordings or make_recordings(work, args.n_sessions, args.minutes, args.seed)
        assert len(list(rec.glob("*.edf"))) == args.n_sessions, "--n-sessions != EDFs in folder"
        print(f"setup: {args.n_sessions} recordings in {time.perf_counter() - t0:.1f} s",
              flush=True)
        costs = stage_costs(rec)
        print(costs, flush=True)
        start = startup_s()
        print(f"start-up: {start:.2f} s", flush=True)
        paths = embed_paths(rec, work)
        print(paths, flush=True)
        runs = []
        for sched in args.schedulers.split(","):
            for check in (True, False):
                r = end_to_end(rec, work, sched, check)
                print(r, f"{args.n_sessions / r['total_s']:.2f} sessions/s", flush=True)
                runs.append(r)
        sized = scaling(rec, work, [int(x) for x in args.sizes.split(",") if x], args.repeats)
    text = report(args, costs, start, paths, runs, load, args.n_sessions)
    if sized:
        text += "\n".join(scaling_lines(sized)) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.append and args.out.is_file():
        text = args.out.read_text().rstrip("\n") + "\n\n---\n\n" + text
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
