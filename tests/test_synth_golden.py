"""Golden test: the synthetic generator's output for fixed seeds, hashed file by file.

Refactors of ``clef.synth`` (plan, render, report, vocabulary) must leave every hash here
unchanged: same seed, same cohort, byte for byte. Each table column and each session's signal is
hashed separately so a failure names exactly what changed.

Three cohorts are checked:

* ``small``: ``generate_cohort(6 sessions, seed 0, 2 minutes, signals="edf")`` -- every file the
  command writes (table columns, ``cohort.json``, each EDF's bytes).
* ``wide``: 400 one-minute sessions over sites A-D -- table columns plus the regenerated signal
  of the first 200 (array bytes, annotations, meta): enough for every event renderer to run.
* ``long``: 300 twenty-minute sessions (tables; signals of the first 8) -- sleep, hyperventilation
  and photic stimulation are only planned in long sessions.

The stored hashes live in ``tests/golden/synth.json``. Update them ONLY when a change of output is
intended, in a commit of its own that says what changed and why::

    CLEF_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_synth_golden.py -q
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clef.synth.cohort import (
    build_tables,
    cohort_session_ids,
    generate_cohort,
    regenerate_session,
)
from clef.synth.plan import plan_session

GOLDEN = Path(__file__).parent / "golden" / "synth.json"
UPDATE = os.environ.get("CLEF_UPDATE_GOLDEN") == "1"

WIDE = {"n": 400, "seed": 123, "sites": ("A", "B", "C", "D"), "duration_s": 60, "signals": 200}
LONG = {"n": 300, "seed": 7, "sites": ("A", "B", "C", "D"), "duration_s": 1200, "signals": 8}


# -- canonical forms ------------------------------------------------------------------------------
def _canon(v) -> str:
    """One cell as stable text: floats by repr, lists/arrays as JSON lists, missing as null."""
    if v is None:
        return "null"
    if isinstance(v, (list, tuple, np.ndarray)):
        return "[" + ",".join(_canon(x) for x in v) + "]"
    if isinstance(v, (float, np.floating)):
        return "null" if math.isnan(v) else repr(float(v))
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True, default=str)
    return json.dumps(str(v))


def _sha(b: bytes | str) -> str:
    return hashlib.sha256(b.encode() if isinstance(b, str) else b).hexdigest()


def _table_hashes(prefix: str, df: pd.DataFrame) -> dict[str, str]:
    """One hash per column (name, dtype family and values) plus the column order."""
    out = {f"{prefix}:columns": _sha(",".join(map(str, df.columns)))}
    for col in df.columns:
        vals = "\n".join(_canon(v) for v in df[col].tolist())
        out[f"{prefix}[{col}]"] = _sha(f"{df[col].dtype.kind}\n{vals}")
    return out


def _signal_hash(seed: int, sid: str) -> str:
    s = regenerate_session(seed, sid)
    h = hashlib.sha256()
    # (19, samples) volts, as whole nanovolts: floating-point kernels (numpy/scipy SIMD paths)
    # differ in the last bits between CPUs, so raw float bytes made this test pass on one
    # machine type and fail on another; 1 nV is far below anything the generator means.
    nv = np.round(np.asarray(s.data, dtype=np.float64) * 1e9).astype(np.int64)
    h.update(np.ascontiguousarray(nv).tobytes())
    h.update(repr(float(s.sfreq)).encode())
    h.update(json.dumps(s.ch_names).encode())
    h.update(json.dumps(s.meta, sort_keys=True, default=str).encode())
    h.update(json.dumps(s.annotations, default=str).encode())
    return h.hexdigest()


# -- the cohorts ----------------------------------------------------------------------------------
def _small(tmp: Path) -> dict[str, str]:
    out = generate_cohort(tmp / "small", 6, seed=0, minutes=2, signals="edf", n_jobs=1,
                          progress=False, created_by="golden")
    hashes: dict[str, str] = {}
    for name in ("sessions", "tasks", "oracle"):
        hashes.update(_table_hashes(f"small/{name}.parquet",
                                    pd.read_parquet(out / f"{name}.parquet")))
    meta = json.loads((out / "cohort.json").read_text())
    hashes["small/cohort.json"] = _sha(json.dumps(meta, sort_keys=True))
    for edf in sorted((out / "recordings").glob("*.edf")):
        hashes[f"small/recordings/{edf.name}"] = _sha(edf.read_bytes())
    return hashes


def _tables_and_signals(name: str, cfg: dict, n_signals: int) -> tuple[dict[str, str], set[str]]:
    ids = cohort_session_ids(cfg["n"], cfg["seed"], cfg["sites"], cfg["duration_s"])
    sessions, tasks, oracle = build_tables(cfg["seed"], ids)
    hashes: dict[str, str] = {}
    for tname, df in (("sessions", sessions), ("tasks", tasks), ("oracle", oracle)):
        hashes.update(_table_hashes(f"{name}/{tname}", df))
    kinds: set[str] = set()
    for sid in ids[:n_signals]:
        hashes[f"{name}/signal/{sid}"] = _signal_hash(cfg["seed"], sid)
        kinds |= {e.kind for e in plan_session(cfg["seed"], sid).events}
    return hashes, kinds


@pytest.fixture(scope="module")
def current(tmp_path_factory) -> dict:
    """Hashes of what the generator writes now, plus the event kinds the signals exercised.

    Generated with one BLAS/OpenMP thread: multi-threaded BLAS sums in another order, and the
    signals (and the EDF scaling taken from them) then differ, so the hashes depended on how many
    threads earlier tests in the same process had left (measured: the file alone with 2 threads
    vs after the dashboard tests, which hold BLAS at one thread)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        hashes = _small(tmp_path_factory.mktemp("golden"))
        wide, k1 = _tables_and_signals("wide", WIDE, WIDE["signals"])
        long, k2 = _tables_and_signals("long", LONG, LONG["signals"])
    return {"hashes": {**hashes, **wide, **long}, "event_kinds": sorted(k1 | k2)}


def _diff(want: dict[str, str], got: dict[str, str]) -> list[str]:
    lines = []
    for k in sorted(set(want) | set(got)):
        if k not in got:
            lines.append(f"  missing now : {k}")
        elif k not in want:
            lines.append(f"  new output  : {k}")
        elif want[k] != got[k]:
            lines.append(f"  changed     : {k}")
    return lines


def test_synth_output_matches_golden(current):
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert GOLDEN.is_file(), (f"{GOLDEN} is missing; record it with CLEF_UPDATE_GOLDEN=1 "
                              "(see this module's docstring)")
    stored = json.loads(GOLDEN.read_text())
    diff = _diff(stored["hashes"], current["hashes"])
    if diff:
        shown = diff[:40] + ([f"  ... and {len(diff) - 40} more"] if len(diff) > 40 else [])
        pytest.fail(f"synthetic output differs from {GOLDEN.name} in {len(diff)} of "
                    f"{len(stored['hashes'])} hashed items:\n" + "\n".join(shown)
                    + "\nIf the change is intended, rerun with CLEF_UPDATE_GOLDEN=1 and commit "
                      "the new golden file on its own, saying what changed and why.")


def test_golden_cohorts_exercise_every_event_renderer(current):
    stored = json.loads(GOLDEN.read_text())
    assert current["event_kinds"] == stored["event_kinds"]
    assert len(stored["event_kinds"]) >= 20  # every renderer of clef.synth.events runs above


def test_golden_diff_names_what_changed():
    want = {"a": "1", "b": "2", "c": "3"}
    got = {"a": "1", "b": "x", "d": "4"}
    assert _diff(want, got) == ["  changed     : b", "  missing now : c", "  new output  : d"]
    assert _diff(want, dict(want)) == []
