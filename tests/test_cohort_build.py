"""`clef cohort build`: folder trees, TUH pairs, BIDS, report/EHR tables, failures not fatal."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clef.cohort import Cohort
from clef.cohort_build import BuildConfig, build_cohort
from clef.cohort_sources import find_recordings, parse_list

STANDARD = ["Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T3", "C3", "Cz", "C4", "T4", "T5",
            "P3", "Pz", "P4", "T6", "O1", "O2"]


def raw(seconds=30.0, sfreq=200.0, seed=0, names=STANDARD):
    import mne

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(len(names), int(seconds * sfreq))) * 20e-6
    return mne.io.RawArray(x, mne.create_info(list(names), sfreq, "eeg"), verbose="error")


def export(path, r, fmt=None):
    from mne.export import export_raw

    path.parent.mkdir(parents=True, exist_ok=True)
    if str(path).endswith(".fif"):
        r.save(path, verbose="error")
    else:
        export_raw(str(path), r, fmt=fmt or "auto", verbose="error")


@pytest.fixture
def tree(tmp_path):
    """A messy user folder: subfolders per patient, a TUH pair, FIF, BrainVision, junk."""
    root = tmp_path / "hospital"
    export(root / "p01" / "visit1.edf", raw(seed=1))
    (root / "p01" / "visit1.txt").write_text("IMPRESSION: normal awake EEG.")
    export(root / "p01" / "visit2.fif", raw(seed=2, sfreq=256.0))
    export(root / "p02" / "visit1.vhdr", raw(seed=3), fmt="brainvision")  # same stem as p01's
    export(root / "tuh" / "aaaaaaab_s001_t000.edf", raw(seed=4))
    (root / "tuh" / "aaaaaaab_s001.txt").write_text(
        "DESCRIPTION: left temporal sharp waves.\nIMPRESSION: abnormal.")
    (root / "p03").mkdir()
    (root / "p03" / "broken.edf").write_bytes(b"0       " + b"x" * 300)  # corrupt header
    export(root / "p03" / "short.edf", raw(seconds=3.0, seed=5))  # too short to use
    (root / "notes.csv").write_text("not a recording")
    (root / ".hidden").mkdir()
    export(root / ".hidden" / "x.edf", raw(seed=6))
    return root


def test_find_recordings_ids_and_patients(tree):
    recs = {r.session_id: r for r in find_recordings(tree)}
    # unique file names are the ids; clashing ones (visit1) get their relative path
    assert set(recs) == {"p01__visit1", "visit2", "p02__visit1", "aaaaaaab_s001_t000", "broken",
                         "short"}
    assert recs["p01__visit1"].patient_id == "p01" and recs["p02__visit1"].patient_id == "p02"
    assert recs["aaaaaaab_s001_t000"].patient_id == "aaaaaaab"
    assert recs["aaaaaaab_s001_t000"].report_file.name == "aaaaaaab_s001.txt"
    assert recs["p01__visit1"].report_file.name == "visit1.txt"
    assert recs["visit2"].report_file is None


def test_build_with_reports_and_ehr(tree, tmp_path):
    ehr = tmp_path / "ehr.csv"
    pd.DataFrame([
        {"file": "p01/visit1.edf", "age": "34", "sex": "female", "setting": "EMU",
         "diagnoses": "G40.3; i63.9", "medications": "Lorazepam|levetiracetam", "site": "H1"},
        {"file": "aaaaaaab_s001_t000.edf", "age": "200", "sex": "m", "setting": "ICU",
         "diagnoses": '["G40.909"]', "medications": "", "site": ""},
        {"file": "p02/visit1.vhdr", "age": "", "sex": "", "setting": "", "diagnoses": "",
         "medications": "", "site": ""},
    ]).to_csv(ehr, index=False)
    reports = tmp_path / "reports.csv"
    pd.DataFrame([{"session_id": "visit2", "report": "IMPRESSION: mild slowing."}]
                 ).to_csv(reports, index=False)
    out = tmp_path / "cohort"
    res = build_cohort(tree, out, reports=reports, ehr=ehr,
                       config=BuildConfig(progress=False, site="main"), created_by="test")
    s = res.sessions.set_index("session_id")
    assert set(s.index) == {"p01__visit1", "visit2", "p02__visit1", "aaaaaaab_s001_t000"}
    # unreadable / unusable recordings are listed with their error, not fatal
    f = res.failures.set_index("session_id")
    assert set(f.index) == {"broken", "short"}
    assert f.loc["broken", "error_type"] == "UnreadableRecording"
    assert f.loc["short", "error_type"] == "TooShort" and "Fix:" in f.loc["short", "message"]
    assert pd.read_parquet(out / "failures.parquet")["session_id"].tolist() == \
        res.failures["session_id"].tolist()
    v1 = s.loc["p01__visit1"]
    assert (v1["age"], v1["sex"], v1["setting"], v1["site"]) == (34.0, "F", "emu", "H1")
    assert list(v1["diagnoses"]) == ["G40.3", "I63.9"]
    assert list(v1["medications"]) == ["lorazepam", "levetiracetam"]
    assert v1["report"] == "IMPRESSION: normal awake EEG."
    tuh = s.loc["aaaaaaab_s001_t000"]
    assert np.isnan(tuh["age"]) and tuh["sex"] == "M" and tuh["site"] == "main"
    assert "left temporal sharp waves" in tuh["report"]
    assert s.loc["visit2", "report"] == "IMPRESSION: mild slowing."
    assert s.loc["visit2", "sfreq"] == 256.0 and s.loc["visit2", "duration_s"] == 30.0
    assert s.loc["p02__visit1", "diagnoses"] is None or len(s.loc["p02__visit1", "diagnoses"]) == 0
    assert set(s["split"]) <= {"train", "test"}
    # the folder follows the contract and every session can be read back
    cohort = Cohort.load(out)
    assert cohort.meta["kind"] == "real" and cohort.meta["created_by"] == "test"
    for sid in s.index:
        assert cohort.recording_path(sid).is_file()
    sess = cohort.session("p02__visit1", sfreq=200.0)
    assert sess.data.shape == (19, 6000)


def test_copy_brings_companions(tree, tmp_path):
    out = tmp_path / "c"
    res = build_cohort(tree, out, config=BuildConfig(copy=True, check=False,
                                                     derive_tasks=False, progress=False))
    paths = res.sessions.set_index("session_id")["path"]
    assert paths["p02__visit1"] == "recordings/p02/visit1.vhdr"
    for ext in (".vhdr", ".vmrk", ".eeg"):
        assert (out / "recordings" / "p02" / f"visit1{ext}").is_file()
    # the copy is self-contained: delete the source tree, the session still reads
    import shutil

    shutil.rmtree(tree)
    assert Cohort.load(out).session("p02__visit1").data.shape[0] == 19


def test_bids_dataset(tmp_path):
    mne_bids = pytest.importorskip("mne_bids")
    root = tmp_path / "bids"
    for sub, age, sex in (("01", 30, "F"), ("02", 41, "M")):
        src = tmp_path / f"src{sub}.edf"
        export(src, raw(seed=int(sub)))
        import mne

        r = mne.io.read_raw_edf(src, verbose="error")
        r.info["line_freq"] = 50
        bp = mne_bids.BIDSPath(subject=sub, session="1", task="rest", datatype="eeg", root=root)
        mne_bids.write_raw_bids(r, bp, overwrite=True, verbose="error")
    parts = pd.read_csv(root / "participants.tsv", sep="\t")
    parts["age"] = [30, 41]
    parts["sex"] = ["F", "M"]
    parts.to_csv(root / "participants.tsv", sep="\t", index=False)
    res = build_cohort(root, tmp_path / "c", config=BuildConfig(progress=False,
                                                                derive_tasks=False))
    s = res.sessions.set_index("session_id")
    assert sorted(s.index) == ["sub-01_ses-1_task-rest", "sub-02_ses-1_task-rest"]
    assert s.loc["sub-02_ses-1_task-rest", "patient_id"] == "sub-02"
    assert s.loc["sub-01_ses-1_task-rest", "age"] == 30.0
    assert s.loc["sub-02_ses-1_task-rest", "sex"] == "M"


def test_parse_list():
    assert parse_list("G40.3; I63") == ["G40.3", "I63"]
    assert parse_list('["a", "b", "a"]') == ["a", "b"]
    assert parse_list("Lorazepam|Propofol", lower=True) == ["lorazepam", "propofol"]
    assert parse_list(None) is None and parse_list(float("nan")) is None
    assert parse_list("") == []


def test_cli_lists_failures(tree, tmp_path):
    from typer.testing import CliRunner

    from clef.cli import app

    res = CliRunner().invoke(app, ["cohort", "build", "--recordings", str(tree), "--out",
                                   str(tmp_path / "c"), "--no-check", "--no-tasks", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "broken.edf: UnreadableRecording" in res.output
    assert "clef embed --cohort" in res.output
    empty = tmp_path / "empty"
    empty.mkdir()
    res = CliRunner().invoke(app, ["cohort", "build", "--recordings", str(empty), "--out",
                                   str(tmp_path / "c2")])
    assert res.exit_code == 1 and "no recordings found" in res.output
