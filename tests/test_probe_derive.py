"""derive_tasks on a small sessions frame; `clef tasks` writes a valid task table."""
from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from clef.cli import app
from clef.cohort import validate_tasks
from clef.errors import InvalidCohort
from clef.probe.derive import derive_tasks, labels_wide, task_info


def _frame():
    return pd.DataFrame({
        "session_id": ["a", "b", "c", "d", "e"],
        "patient_id": ["p1", "p1", "p2", "p3", "p4"],
        "diagnoses": [["G40.109"], ["G30.9", "I63.9"], [], None, ["G40.901", "G93.41"]],
        "medications": [["levetiracetam", "Lorazepam"], [], None, ["propofol"], ["midazolam"]],
        "age": [30.0, 70.0, 8.0, None, 66.0],
        "sex": ["F", "M", None, "F", "M"],
        "setting": ["outpatient", "icu", "emu", None, "icu"],
        "report": ["Rare left temporal sharp waves. No electrographic seizures were seen.",
                   "Diffuse slowing.", "", None, "Possible lateralized periodic discharges."],
    })


def test_derive_tasks_small_frame():
    t = derive_tasks(_frame())
    w = labels_wide(t)
    info = task_info(t).set_index("task")
    assert w.loc["a", "focal_epilepsy"] == 1 and w.loc["e", "focal_epilepsy"] == 0
    assert w.loc["a", "epilepsy_any"] == 1 and w.loc["e", "epilepsy_any"] == 1
    assert w.loc["e", "status_epilepticus"] == 1 and w.loc["a", "status_epilepticus"] == 0
    assert w.loc["b", "alzheimer_dementia"] == 1 and w.loc["b", "ischemic_stroke"] == 1
    assert pd.isna(w.loc["d", "focal_epilepsy"])  # diagnoses missing -> unlabelled
    assert w.loc["c", "focal_epilepsy"] == 0  # empty list -> negative
    assert w.loc["a", "lorazepam"] == 1 and w.loc["a", "benzodiazepine_class"] == 1
    assert w.loc["e", "benzodiazepine_class"] == 1 and pd.isna(w.loc["c", "lorazepam"])
    assert w.loc["a", "female"] == 1 and w.loc["b", "female"] == 0 and pd.isna(w.loc["c", "female"])
    assert w.loc["c", "age_child"] == 1 and w.loc["b", "age_elderly"] == 1
    assert w.loc["b", "setting_icu"] == 1 and pd.isna(w.loc["d", "setting_icu"])
    assert w.loc["a", "ied_left_temporal"] == 1 and w.loc["b", "generalized_slowing"] == 1
    assert w.loc["e", "lpds"] == 1  # hedged mention counts as positive-uncertain
    assert "seizure" in t.attrs["dropped"]  # only ever negated -> no positives -> dropped
    assert pd.isna(w.loc["d", "generalized_slowing"])  # no report -> unlabelled
    assert info.loc["ied_left_temporal", "category"] == "finding"
    assert info.loc["lorazepam", "category"] == "medication"
    assert info.loc["female", "category"] == "demographic"
    assert info.loc["focal_epilepsy", "category"] == "phenotype"
    assert pd.isna(info.loc["epilepsy_any", "concept"])
    assert not info["held_out"].any()
    validate_tasks(t.astype({"label": "int8"}))  # follows the cohort contract
    strict = derive_tasks(_frame(), min_positives=2)
    assert "focal_epilepsy" not in set(strict["task"]) and "icu" not in set(strict["task"])
    assert "setting_icu" in set(strict["task"])
    held = derive_tasks(_frame(), held_out=["lpds"])
    assert task_info(held).set_index("task").loc["lpds", "held_out"]


def test_derive_errors():
    with pytest.raises(InvalidCohort, match="session_id"):
        derive_tasks(pd.DataFrame({"x": [1]}))
    with pytest.raises(InvalidCohort, match="no task source"):
        derive_tasks(pd.DataFrame({"session_id": ["a"]}))
    with pytest.raises(InvalidCohort, match="duplicate"):
        derive_tasks(pd.DataFrame({"session_id": ["a", "a"], "age": [1.0, 2.0]}))


def test_clef_tasks_command(tmp_path):
    df = _frame()
    df["patient_id"] = df["patient_id"].astype(str)
    df["site"] = "A"
    df["path"] = None
    df["duration_s"] = 1200.0
    df["sfreq"] = 200.0
    df["diagnoses"] = [d if d is not None else [] for d in df["diagnoses"]]
    df["medications"] = [m if m is not None else [] for m in df["medications"]]
    df.to_parquet(tmp_path / "sessions.parquet", index=False)
    r = CliRunner().invoke(app, ["tasks", "--cohort", str(tmp_path), "--min-positives", "1"])
    assert r.exit_code == 0, r.output
    t = pd.read_parquet(tmp_path / "tasks.parquet")
    assert {"session_id", "task", "category", "held_out", "concept", "label"} <= set(t.columns)
    assert t["label"].dtype == "int8" and "focal_epilepsy" in set(t["task"])
    r = CliRunner().invoke(app, ["tasks", "--cohort", str(tmp_path)])
    assert r.exit_code == 1 and "exists" in r.output
    r = CliRunner().invoke(app, ["tasks", "--cohort", str(tmp_path / "nope"), "--out",
                                 str(tmp_path / "x.parquet")])
    assert r.exit_code == 1 and "sessions.parquet" in r.output


def test_aggregates_and_polytherapy():
    df = _frame()
    df.loc[1, "medications"] = ["levetiracetam", "lamotrigine"]
    df.loc[2, "report"] = "Normal EEG. No epileptiform discharges."
    w = labels_wide(derive_tasks(df))
    assert w.loc["c", "abnormal_eeg"] == 0 and w.loc["c", "any_epileptiform"] == 0
    assert w.loc["a", "any_epileptiform"] == 1 and w.loc["b", "any_epileptiform"] == 0
    assert w.loc["a", "abnormal_eeg"] == 1 and w.loc["b", "abnormal_eeg"] == 1
    assert w.loc["b", "asm_polytherapy"] == 1 and w.loc["a", "asm_polytherapy"] == 0


@pytest.fixture(scope="module")
def synth_tables():
    synth = pytest.importorskip("clef.synth.cohort")
    ids = synth.cohort_session_ids(150, 3, ("A", "B"), 60)
    return synth.build_tables(3, ids)


def test_derive_matches_synthetic_task_table(synth_tables):
    """On a synthetic cohort, EHR/metadata tasks equal the generator's own labels exactly and
    report-derived finding tasks agree with the oracle-based labels up to the report noise."""
    sessions, tasks, _ = synth_tables
    ours = labels_wide(derive_tasks(sessions))
    ref = tasks.pivot(index="session_id", columns="task", values="label")
    cat = tasks.groupby("task")["category"].first()
    common = sorted(set(ours.columns) & set(ref.columns))
    assert len(common) > 50
    for task in common:
        a, b = ours[task].reindex(ref.index), ref[task]
        both = a.notna() & b.notna()
        agree = float((a[both] == b[both]).mean())
        if cat[task] == "finding":
            assert agree > 0.85, (task, agree)
        else:
            assert agree == 1.0, (task, agree)
            assert (a.isna() == b.isna()).all(), task  # same missingness


def test_derive_uses_the_clinical_vocabulary():
    """Status epilepticus for every epilepsy type (G40.x01/x11, G41) and the anesthetic class
    (pentobarbital, ketamine; midazolam stays a benzodiazepine) as clef.vocabulary defines them;
    the synthetic generator labels with the same tables."""
    from clef.synth.tasks import session_labels

    df = pd.DataFrame({
        "session_id": ["a", "b", "c", "d"],
        "diagnoses": [["G40.101"], ["G40.109"], ["G41.0"], ["G40.A11", "F03.90"]],
        "medications": [["pentobarbital"], ["ketamine"], ["midazolam"], ["clobazam", "phenytoin"]],
    })
    w = labels_wide(derive_tasks(df, findings=False, min_positives=0))
    assert list(w["status_epilepticus"]) == [1, 0, 1, 1]
    assert list(w["anesthetic_class"]) == [1, 1, 0, 0]
    assert list(w["benzodiazepine_class"]) == [0, 0, 1, 1]
    assert list(w["asm_polytherapy"]) == [0, 0, 0, 1]  # clobazam is also an antiseizure drug
    for sid, dx, meds in zip(df["session_id"], df["diagnoses"], df["medications"]):
        synth = session_labels([], dx, meds, "F", 40.0, "icu")
        for task in ("status_epilepticus", "anesthetic_class", "benzodiazepine_class",
                     "asm_polytherapy", "epilepsy_any", "dementia_any"):
            assert synth[task] == w.loc[sid, task], (sid, task)
