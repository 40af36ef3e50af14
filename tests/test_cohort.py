"""clef.cohort: the cohort-folder contract (round trip, validation errors, session loading)."""
from __future__ import annotations

import json
import sys
import types

import mne
import numpy as np
import pandas as pd
import pytest
from mne.export import export_raw

from clef.channels import OLD_NAMES, STANDARD_CHANNELS
from clef.cohort import Cohort, validate_sessions, validate_tasks
from clef.cohort_build import write_cohort
from clef.errors import InvalidCohort
from clef.session import Session

META = {"kind": "synthetic", "seed": 7, "generator_version": "0.1", "created_by": "test"}


def sessions_df() -> pd.DataFrame:
    return pd.DataFrame({
        "session_id": ["s1", "s2", "s3"],
        "patient_id": ["p1", "p1", "p2"],
        "site": ["A", "A", "B"],
        "path": [None, None, None],
        "duration_s": [1200.0, 1200.0, 900.0],
        "sfreq": [256.0, 256.0, 200.0],
        "age": [34.0, np.nan, 71.5],
        "sex": ["F", None, "M"],
        "setting": ["outpatient", "emu", "icu"],
        "report": ["Normal awake EEG.", "Left temporal sharp waves.", None],
        "diagnoses": [[], ["G40.209"], ["G93.40", "I63.9"]],
        "medications": [[], ["levetiracetam"], ["propofol", "lorazepam"]],
        "split": ["train", "train", "test"],
    })


def tasks_df() -> pd.DataFrame:
    return pd.DataFrame({
        "session_id": ["s1", "s2", "s3", "s2", "s3"],
        "task": ["epilepsy", "epilepsy", "epilepsy", "benzo", "benzo"],
        "category": ["phenotype"] * 3 + ["medication"] * 2,
        "held_out": [False] * 3 + [True] * 2,
        "concept": [None] * 3 + ["benzodiazepine effect"] * 2,
        "label": np.array([0, 1, 0, 0, 1], dtype="int8"),
    })


def test_round_trip(tmp_path):
    oracle = pd.DataFrame({"session_id": ["s2"], "finding": ["sharp_wave"], "start_s": [10.0],
                           "end_s": [10.2], "region": ["left_temporal"]})
    out = write_cohort(tmp_path / "c", sessions_df(), tasks_df(), META, oracle_df=oracle)
    assert sorted(p.name for p in out.iterdir()) == [
        "cohort.json", "oracle.parquet", "sessions.parquet", "tasks.parquet"]  # no temp files
    c = Cohort.load(out)
    assert c.kind == "synthetic" and c.meta["seed"] == 7 and c.meta["created_by"] == "test"
    assert len(c) == 3
    s = c.sessions
    assert s["session_id"].tolist() == ["s1", "s2", "s3"]
    assert s["diagnoses"].tolist() == [[], ["G40.209"], ["G93.40", "I63.9"]]
    assert s["medications"].tolist()[2] == ["propofol", "lorazepam"]
    assert s["age"].isna().tolist() == [False, True, False]
    assert c.tasks["label"].dtype == np.int8 and c.tasks["held_out"].dtype == bool
    pd.testing.assert_frame_equal(c.oracle, oracle)

    wide = c.labels()
    assert list(wide.index) == ["s1", "s2", "s3"] and sorted(wide.columns) == ["benzo", "epilepsy"]
    assert str(wide["benzo"].dtype) == "Int8"
    assert wide.loc["s1", "benzo"] is pd.NA
    assert wide["epilepsy"].tolist() == [0, 1, 0] and wide.loc["s3", "benzo"] == 1

    info = c.task_info().set_index("task")
    assert info.loc["benzo", "category"] == "medication" and bool(info.loc["benzo", "held_out"])
    assert info.loc["benzo", "concept"] == "benzodiazepine effect"
    assert info.loc["epilepsy", "n_labeled"] == 3 and info.loc["epilepsy", "n_positive"] == 1


def test_optional_columns_filled(tmp_path):
    s = sessions_df()[["session_id", "patient_id", "site", "path", "duration_s", "sfreq"]]
    t = tasks_df().drop(columns=["concept"])
    c = Cohort.load(write_cohort(tmp_path / "c", s, t, {"kind": "real", "seed": None}))
    assert c.sessions["diagnoses"].tolist() == [[], [], []]
    assert c.sessions["report"].isna().all() and "split" in c.sessions.columns
    assert c.tasks["concept"].isna().all()


def _set(df, col, values):
    df = df.copy()
    df[col] = values
    return df


SESSION_ERRORS = [
    ("missing column", lambda d: d.drop(columns=["patient_id"]),
     "missing required column.*patient_id"),
    ("duplicate id", lambda d: _set(d, "session_id", ["s1", "s1", "s3"]), "duplicate values.*s1"),
    ("empty id", lambda d: _set(d, "session_id", ["s1", "", "s3"]), "'session_id'.*non-empty"),
    ("numeric id", lambda d: _set(d, "session_id", [1, 2, 3]), "'session_id'.*non-empty strings"),
    ("duration as text", lambda d: _set(d, "duration_s", ["20 min", "1", "2"]),
     "'duration_s'.*numeric"),
    ("negative sfreq", lambda d: _set(d, "sfreq", [256.0, -1.0, 200.0]), "'sfreq'.*> 0"),
    ("age out of range", lambda d: _set(d, "age", [34.0, 400.0, 1.0]), "'age'.*0..130"),
    ("unknown sex", lambda d: _set(d, "sex", ["F", "female", "M"]), "'sex'.*female"),
    ("unknown setting", lambda d: _set(d, "setting", ["ward", "emu", "icu"]), "'setting'.*ward"),
    ("unknown split", lambda d: _set(d, "split", ["train", "val", "test"]), "'split'.*val"),
    ("codes as a string", lambda d: _set(d, "diagnoses", ["G40.3", [], []]),
     "'diagnoses'.*lists of strings"),
    ("numeric codes", lambda d: _set(d, "medications", [[1], [], []]), "'medications'.*non-string"),
    ("path not text", lambda d: _set(d, "path", [3.5, None, None]), "'path'.*strings or null"),
]


@pytest.mark.parametrize("name, mutate, match", SESSION_ERRORS, ids=[e[0] for e in SESSION_ERRORS])
def test_session_validation_errors(tmp_path, name, mutate, match):
    bad = mutate(sessions_df())
    with pytest.raises(InvalidCohort, match=match):
        validate_sessions(bad)
    with pytest.raises(InvalidCohort, match=match):
        write_cohort(tmp_path / "c", bad, tasks_df(), META)
    assert not (tmp_path / "c").exists()  # nothing written


TASK_ERRORS = [
    ("missing label", lambda d: d.drop(columns=["label"]), "missing required column.*label"),
    ("label 2", lambda d: _set(d, "label", np.array([0, 2, 0, 0, 1], "int8")), "0 or 1.*row 1"),
    ("float labels", lambda d: _set(d, "label", [0.0, 1.0, 0.5, 0.0, 1.0]), "integer 0/1"),
    ("unknown category", lambda d: _set(d, "category", ["phenotype"] * 3 + ["drug"] * 2),
     "'category'.*drug"),
    ("held_out as text", lambda d: _set(d, "held_out", ["no"] * 5), "'held_out'.*boolean"),
    ("duplicate rows", lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate \\(session_id, task\\)"),
    ("inconsistent category", lambda d: _set(d, "category", ["phenotype"] * 2 + ["finding"]
                                             + ["medication"] * 2), "task 'epilepsy'"),
    ("unknown session", lambda d: _set(d, "session_id", ["s1", "s2", "s9", "s2", "s3"]),
     "not in sessions.parquet.*s9"),
]


@pytest.mark.parametrize("name, mutate, match", TASK_ERRORS, ids=[e[0] for e in TASK_ERRORS])
def test_task_validation_errors(tmp_path, name, mutate, match):
    bad = mutate(tasks_df())
    with pytest.raises(InvalidCohort, match=match):
        validate_tasks(bad, sessions_df())
    with pytest.raises(InvalidCohort, match=match):
        write_cohort(tmp_path / "c", sessions_df(), bad, META)
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("meta, match", [
    ({"kind": "simulated", "seed": 1}, "'kind'"),
    ({"kind": "synthetic", "seed": None}, "needs its integer 'seed'"),
    ({"kind": "real", "seed": "abc"}, "'seed' must be an integer"),
])
def test_meta_validation(tmp_path, meta, match):
    with pytest.raises(InvalidCohort, match=match):
        write_cohort(tmp_path / "c", sessions_df(), tasks_df(), meta)


def test_load_errors(tmp_path):
    with pytest.raises(InvalidCohort, match="does not exist"):
        Cohort.load(tmp_path / "nowhere")
    root = write_cohort(tmp_path / "c", sessions_df(), tasks_df(), META)
    (root / "tasks.parquet").unlink()
    with pytest.raises(InvalidCohort, match="missing tasks.parquet"):
        Cohort.load(root)
    root = write_cohort(tmp_path / "d", sessions_df(), tasks_df(), META)
    (root / "sessions.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidCohort, match="cannot read parquet"):
        Cohort.load(root)
    root = write_cohort(tmp_path / "e", sessions_df(), tasks_df(), META)
    (root / "cohort.json").write_text("{kind: synthetic")
    with pytest.raises(InvalidCohort, match="not valid JSON"):
        Cohort.load(root)
    root = write_cohort(tmp_path / "f", sessions_df(), tasks_df(), META)
    bad = sessions_df()
    bad["sfreq"] = ["x", "y", "z"]
    bad.to_parquet(root / "sessions.parquet")  # written behind write_cohort's back
    with pytest.raises(InvalidCohort, match="'sfreq'"):
        Cohort.load(root)


def test_session_from_recording(tmp_path):
    root = tmp_path / "c"
    (root / "recordings").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"EEG {c.upper()}-REF" for c in STANDARD_CHANNELS] + ["ECG"]
    raw = mne.io.RawArray(rng.standard_normal((20, 256 * 15)) * 20e-6,
                          mne.create_info(names, 256.0, "eeg"), verbose="error")
    export_raw(root / "recordings" / "s1.edf", raw, verbose="error")
    s = _set(sessions_df(), "path", ["recordings/s1.edf", None, None])
    c = Cohort.load(write_cohort(root, s, tasks_df(), {"kind": "real", "seed": None}))
    assert c.recording_path("s1") == root / "recordings" / "s1.edf"
    sess = c.session("s1", sfreq=128.0, montage="bipolar")
    assert sess.sfreq == 128.0 and len(sess.ch_names) == 18 and sess.ch_names[0] == "Fp1-F7"
    assert sess.meta["session_id"] == "s1" and sess.meta["patient_id"] == "p1"
    assert sess.meta["site"] == "A" and sess.meta["format"] == "edf"
    with pytest.raises(InvalidCohort, match="no recording path"):
        c.session("s2")
    with pytest.raises(InvalidCohort, match="no session 'zz'"):
        c.session("zz")


def test_session_regenerated_for_synthetic_cohort(tmp_path, monkeypatch):
    calls = []
    old = {new: old for old, new in OLD_NAMES.items()}
    names = [old.get(c, c) for c in STANDARD_CHANNELS]  # T3/T4/T5/T6 as a site records

    def regenerate_session(seed, session_id):
        calls.append((seed, session_id))
        rng = np.random.default_rng(seed)
        x = (rng.standard_normal((19, 256 * 12)) * 20e-6).astype(np.float32)
        return Session(x, 256.0, list(names), {"session_id": session_id}, [(2.0, 0.1, "spike")])

    fake = types.ModuleType("clef.synth")
    fake.regenerate_session = regenerate_session
    monkeypatch.setitem(sys.modules, "clef.synth", fake)
    c = Cohort.load(write_cohort(tmp_path / "c", sessions_df(), tasks_df(), META))
    sess = c.session("s3")
    assert calls == [(7, "s3")]
    assert sess.sfreq == 200.0 and sess.ch_names == list(STANDARD_CHANNELS)
    assert sess.data.shape == (19, 2400) and sess.data.dtype == np.float32
    assert sess.meta["channel_map"]["T3"] == "T7" and sess.meta["reference"] == "average"
    assert sess.annotations == [(2.0, 0.1, "spike")] and sess.meta["site"] == "B"


def test_cohort_json_is_plain_json(tmp_path):
    root = write_cohort(tmp_path / "c", sessions_df(), tasks_df(), META)
    meta = json.loads((root / "cohort.json").read_text())
    assert meta["kind"] == "synthetic" and meta["seed"] == 7 and meta["schema_version"] == 1
