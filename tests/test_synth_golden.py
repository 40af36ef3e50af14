"""Golden test: the synthetic generator's output for fixed seeds, item by item.

Refactors of ``clef.synth`` (plan, render, report, vocabulary) must leave every item here
unchanged: same seed, same cohort. Each table column, each file header and each session's signal
is checked separately so a failure names exactly what changed.

Tables, ``cohort.json``, EDF headers, session metadata and annotations are hashed (exact). Signal
samples are not: numpy/scipy SIMD kernels round the last bits differently on different CPUs (this
file failed on every signal, and on the EDF bytes whose scaling follows them, when CI moved
between AMD EPYC and Intel Xeon machines). A signal is checked by its fingerprint, the RMS of each
channel's four quarters, within ``RTOL``: CPU rounding moves it by ~1e-15, any change to what the
generator draws or renders by far more (``test_fingerprint_sees_a_small_change``).

Three cohorts are checked:

* ``small``: ``generate_cohort(6 sessions, seed 0, 2 minutes, signals="edf")`` -- every file the
  command writes (table columns, ``cohort.json``, each EDF's header and decoded signal).
* ``wide``: 400 one-minute sessions over sites A-D -- table columns plus the regenerated signal
  of the first 200 (samples, annotations, meta): enough for every event renderer to run.
* ``long``: 300 twenty-minute sessions (tables; signals of the first 8) -- sleep, hyperventilation
  and photic stimulation are only planned in long sessions.

The stored values live in ``tests/golden/synth.json``. Update them ONLY when a change of output is
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


RTOL = 1e-6  # signal fingerprints, relative to the session's RMS (CPU rounding: ~1e-15)


def fingerprint(data) -> list[float]:
    """(channels, samples) volts -> RMS of each channel's four quarters, (channels * 4,)."""
    x = np.asarray(data, dtype=np.float64)
    quarters = np.array_split(x, 4, axis=1)  # 4 x (channels, samples / 4)
    rms = np.stack([np.sqrt(np.mean(q * q, axis=1)) for q in quarters], axis=1)  # (channels, 4)
    return [float(f"{v:.10e}") for v in rms.ravel()]


def _signal(seed: int, sid: str) -> tuple[str, list[float]]:
    """A regenerated session: (hash of rate, channels, shape, meta, annotations), fingerprint."""
    s = regenerate_session(seed, sid)
    h = hashlib.sha256()
    h.update(repr(float(s.sfreq)).encode())
    h.update(json.dumps([s.ch_names, list(np.shape(s.data))]).encode())
    h.update(json.dumps(s.meta, sort_keys=True, default=str).encode())
    h.update(json.dumps(s.annotations, default=str).encode())
    return h.hexdigest(), fingerprint(s.data)


def _edf(path: Path) -> tuple[str, list[float]]:
    """An EDF file: (hash of its header without the physical ranges, and of its annotations),
    fingerprint of its decoded signal. The physical min/max follow the samples' last bits."""
    import mne

    b = path.read_bytes()
    ns = int(b[252:256])  # signals in the file (EDF header layout)
    pmin = 256 + ns * (16 + 80 + 8)  # physical minimum, then maximum: 8 characters per signal
    header = b[:pmin] + b" " * (16 * ns) + b[pmin + 16 * ns: 256 * (ns + 1)]
    raw = mne.io.read_raw_edf(path, preload=True, verbose="error")
    anns = [[round(float(o), 6), round(float(d), 6), str(t)] for o, d, t in
            zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description,
                strict=True)]
    return _sha(header + json.dumps(anns).encode()), fingerprint(raw.get_data())


# -- the cohorts ----------------------------------------------------------------------------------
def _small(tmp: Path) -> tuple[dict[str, str], dict[str, list[float]]]:
    out = generate_cohort(tmp / "small", 6, seed=0, minutes=2, signals="edf", n_jobs=1,
                          progress=False, created_by="golden")
    hashes: dict[str, str] = {}
    for name in ("sessions", "tasks", "oracle"):
        hashes.update(_table_hashes(f"small/{name}.parquet",
                                    pd.read_parquet(out / f"{name}.parquet")))
    meta = json.loads((out / "cohort.json").read_text())
    hashes["small/cohort.json"] = _sha(json.dumps(meta, sort_keys=True))
    signals = {}
    for edf in sorted((out / "recordings").glob("*.edf")):
        key = f"small/recordings/{edf.name}"
        hashes[key], signals[key] = _edf(edf)
    return hashes, signals


def _tables_and_signals(name: str, cfg: dict, n_signals: int):
    """-> (hashes, signal fingerprints, event kinds planned) of one cohort."""
    ids = cohort_session_ids(cfg["n"], cfg["seed"], cfg["sites"], cfg["duration_s"])
    sessions, tasks, oracle = build_tables(cfg["seed"], ids)
    hashes: dict[str, str] = {}
    for tname, df in (("sessions", sessions), ("tasks", tasks), ("oracle", oracle)):
        hashes.update(_table_hashes(f"{name}/{tname}", df))
    signals: dict[str, list[float]] = {}
    kinds: set[str] = set()
    for sid in ids[:n_signals]:
        key = f"{name}/signal/{sid}"
        hashes[key], signals[key] = _signal(cfg["seed"], sid)
        kinds |= {e.kind for e in plan_session(cfg["seed"], sid).events}
    return hashes, signals, kinds


@pytest.fixture(scope="module")
def current(tmp_path_factory) -> dict:
    """Hashes of what the generator writes now, plus the event kinds the signals exercised.

    Generated with one BLAS/OpenMP thread: multi-threaded BLAS sums in another order, and the
    signals (and the EDF scaling taken from them) then differ, so the hashes depended on how many
    threads earlier tests in the same process had left (measured: the file alone with 2 threads
    vs after the dashboard tests, which hold BLAS at one thread)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        hashes, signals = _small(tmp_path_factory.mktemp("golden"))
        wide, wide_signals, k1 = _tables_and_signals("wide", WIDE, WIDE["signals"])
        long, long_signals, k2 = _tables_and_signals("long", LONG, LONG["signals"])
    return {"hashes": {**hashes, **wide, **long},
            "signals": {**signals, **wide_signals, **long_signals},
            "event_kinds": sorted(k1 | k2)}


def _same_signal(want: list[float], got: list[float]) -> bool:
    """Fingerprints equal within RTOL of the session's mean RMS."""
    w, g = np.asarray(want), np.asarray(got)
    return w.shape == g.shape and bool(np.all(np.abs(w - g) <= RTOL * max(w.mean(), 1e-30)))


def _diff(want: dict, got: dict, same=lambda a, b: a == b) -> list[str]:
    lines = []
    for k in sorted(set(want) | set(got)):
        if k not in got:
            lines.append(f"  missing now : {k}")
        elif k not in want:
            lines.append(f"  new output  : {k}")
        elif not same(want[k], got[k]):
            lines.append(f"  changed     : {k}")
    return lines


def test_synth_output_matches_golden(current):
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    assert GOLDEN.is_file(), (f"{GOLDEN} is missing; record it with CLEF_UPDATE_GOLDEN=1 "
                              "(see this module's docstring)")
    stored = json.loads(GOLDEN.read_text())
    diff = (_diff(stored["hashes"], current["hashes"])
            + [f"{line} (signal)" for line in _diff(stored["signals"], current["signals"],
                                                     _same_signal)])
    if diff:
        shown = diff[:40] + ([f"  ... and {len(diff) - 40} more"] if len(diff) > 40 else [])
        n_items = len(stored["hashes"]) + len(stored["signals"])
        pytest.fail(f"synthetic output differs from {GOLDEN.name} in {len(diff)} of "
                    f"{n_items} checked items:\n" + "\n".join(shown)
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


def test_fingerprint_sees_a_small_change():
    """CPU rounding (1e-12 relative) passes; a 0.1% change in a quarter of one channel fails."""
    x = np.random.default_rng(0).standard_normal((19, 4000)) * 2e-5  # (channels, samples) volts
    want = fingerprint(x)
    assert _same_signal(want, fingerprint(x * (1 + 1e-12)))
    y = x.copy()
    y[7, 1000:2000] *= 1.001
    assert not _same_signal(want, fingerprint(y))
