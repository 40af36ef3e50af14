"""Benchmark: time to generate synthetic twenty-minute sessions' signals (and EDF files).

Measures N sessions (default 100) in parallel over the cores, the tables for 2,000 sessions, and a
reference in the same run (drawing and FFT-ing 19 channels of white noise of the same length), then
extrapolates to 2,000 sessions:

    T(2000) = T_tables(2000) + 2000 / N * T_signals(N)

Target: 2,000 twenty-minute sessions in < 10 minutes on this machine. Writes
benchmarks/results/synth.md.

    .venv/bin/python benchmarks/synth.py [--n 100] [--n-jobs 0] [--no-edf]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from clef.synth.cohort import build_tables, cohort_session_ids, regenerate_session, write_edf

SEED = 0
OUT = Path(__file__).resolve().parent / "results" / "synth.md"


def _job(args):
    sid, folder = args
    t0, c0 = time.perf_counter(), time.process_time()
    s = regenerate_session(SEED, sid)
    t1, c1 = time.perf_counter(), time.process_time()
    if folder:
        p = Path(folder) / f"{sid}.edf"
        write_edf(s, p)
        size = p.stat().st_size
        p.unlink()
    else:
        size = 0
    t2, c2 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0, t2 - t1, c2 - c1, size


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="sessions to time")
    ap.add_argument("--n-jobs", type=int, default=0, help="worker processes (0 = all cores)")
    ap.add_argument("--no-edf", action="store_true", help="time signals only, no EDF writing")
    args = ap.parse_args(argv)
    n_jobs = args.n_jobs or os.cpu_count() or 1
    load0 = os.getloadavg()

    # reference: 19 channels x 20 min of white noise at 256 Hz, drawn and FFT-ed
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(5):
        x = rng.standard_normal((19, 1200 * 256), dtype=np.float32)
        np.fft.irfft(np.fft.rfft(x, axis=1), axis=1)
    t_ref = (time.perf_counter() - t) / 5

    ids2000 = cohort_session_ids(2000, SEED, ("A", "B"))
    t = time.perf_counter()
    build_tables(SEED, ids2000)
    t_tables = time.perf_counter() - t

    ids = ids2000[:args.n]
    tmp = None if args.no_edf else tempfile.mkdtemp(prefix="synth_bench_")
    t = time.perf_counter()
    with ProcessPoolExecutor(n_jobs, mp_context=get_context("spawn")) as ex:
        ex.submit(regenerate_session, SEED, make_warm_id()).result()  # start the workers
        t = time.perf_counter()
        res = list(ex.map(_job, [(sid, tmp) for sid in ids], chunksize=2))
    t_sig = time.perf_counter() - t
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    load1 = os.getloadavg()
    r = np.array(res)  # (n, 5): wall_gen, cpu_gen, wall_edf, cpu_edf, bytes
    per = t_sig / args.n
    t2000 = t_tables + 2000 * per
    lines = [
        "# Synthetic cohort generation speed (`benchmarks/synth.py`)",
        "",
        (f"Command: `.venv/bin/python benchmarks/synth.py --n {args.n} --n-jobs {args.n_jobs}"
        f"{' --no-edf' if args.no_edf else ''}`"),
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};"
        f" load average {load0[0]:.1f} before / {load1[0]:.1f} after (the cores are shared with "
        "other jobs, so wall times are noisy; CPU seconds per session are the stable number)."),
        "",
        "| quantity | value |",
        "|---|---|",
        f"| sessions timed (20 min, sites A 200 Hz / B 256 Hz) | {args.n} |",
        f"| worker processes | {n_jobs} |",
        f"| wall time, {args.n} sessions' signals{'' if args.no_edf else ' + EDF'} | {t_sig:.1f} s |",
        f"| per session, wall (parallel) | {per:.3f} s |",
        f"| per session, signal synthesis CPU | {r[:, 1].mean():.3f} s (wall {r[:, 0].mean():.3f} s) |",
        f"| per session, EDF writing CPU | {r[:, 3].mean():.3f} s (wall {r[:, 2].mean():.3f} s) |",
        f"| EDF size per session | {r[:, 4].mean() / 1e6:.1f} MB |",
        f"| tables (sessions, tasks, oracle, reports) for 2,000 sessions | {t_tables:.1f} s |",
        f"| reference: white noise 19 x 20 min @ 256 Hz, draw + FFT round trip | {t_ref:.3f} s |",
        f"| synthesis CPU / reference | {r[:, 1].mean() / t_ref:.1f}x |",
        "",
        (f"Extrapolation: T(2000) = T_tables(2000) + 2000 / {args.n} x T_signals({args.n}) = "
        f"{t_tables:.1f} + 2000 / {args.n} x {t_sig:.1f} = **{t2000:.0f} s "
        f"({t2000 / 60:.1f} min)**; target < 600 s: "
        f"{'met' if t2000 < 600 else 'NOT met'} (ratio {t2000 / 600:.2f} of the budget)."),
        "",
        (f"Idle-machine estimate from CPU time: T_tables(2000) + 2000 x CPU/session / cores = "
         f"{t_tables:.1f} + 2000 x {r[:, 1].mean() + r[:, 3].mean():.3f} / {n_jobs} = "
         f"**{t_tables + 2000 * (r[:, 1].mean() + r[:, 3].mean()) / n_jobs:.0f} s** (CPU time "
         "is itself inflated when the cores are oversubscribed)."),
        "",
        (f"2,000 sessions as EDF occupy about {2000 * r[:, 4].mean() / 1e9:.1f} GB; with "
        "`--signals none` the tables take megabytes and signals regenerate from (seed, session_id)."),
    ]
    text = "\n".join(lines) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = OUT.with_suffix(".md.tmp")
    tmp_out.write_text(text)
    os.replace(tmp_out, OUT)
    print(text)
    return text


def make_warm_id() -> str:
    return "A-P000000-S0-D10"


if __name__ == "__main__":
    main()
