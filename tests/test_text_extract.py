"""Negation-aware concept extraction and its precision/recall against an oracle."""
from __future__ import annotations

import pandas as pd
import pytest

from clef.text.extract import ConceptExtractor, measure_extractor, ontology_synonyms


@pytest.fixture(scope="module")
def ex():
    return ConceptExtractor()  # over the synthetic generator's ontology of findings


@pytest.mark.parametrize("text,concept,status", [
    ("There are rare left temporal sharp waves.", "ied_left_temporal", "positive"),
    ("Occasional right temporal spikes are seen in sleep.", "ied_right_temporal", "positive"),
    ("No electrographic seizures were recorded.", "seizure", "negative"),
    ("Without evidence of electrographic seizures.", "seizure", "negative"),
    ("Absence of sleep spindles.", "sleep_spindles", "negative"),
    ("Left temporal sharp waves were not seen.", "ied_left_temporal", "negative"),
    ("No evidence of burst suppression.", "burst_suppression", "negative"),
    ("There is no triphasic morphology.", "triphasic_waves", "negative"),
    ("Possible left temporal sharp waves.", "ied_left_temporal", "uncertain"),
    ("An electrographic seizure cannot be excluded.", "seizure", "uncertain"),
    ("Findings are suspicious for lateralized periodic discharges.", "lpds", "uncertain"),
    ("No change in the diffuse slowing.", "generalized_slowing", "positive"),  # pseudo-negation
    ("Diffuse slowing, but no triphasic waves.", "generalized_slowing", "positive"),
    ("Diffuse slowing, but no triphasic waves.", "triphasic_waves", "negative"),
    ("No focal slowing, frequent right temporal spikes.", "ied_right_temporal", "positive"),
    ("No epileptiform discharges; rare left temporal sharp waves.", "ied_left_temporal",
     "positive"),
])
def test_negation_and_hedges(ex, text, concept, status):
    found = [m for m in ex.extract(text) if m.concept == concept]
    assert found, f"{concept} not found in {text!r}"
    assert found[0].status == status, (text, found)


def test_labels_lists_and_sections(ex):
    lab = ex.labels("No epileptiform discharges were seen.")
    assert set(lab) == set(ontology_synonyms()) and sum(lab.values()) == 0
    t = "No spikes, sharp waves, burst suppression or electrographic seizures were seen."
    assert {m.concept: m.status for m in ex.extract(t)} == {"burst_suppression": "negative",
                                                            "seizure": "negative"}
    report = ("CLINICAL HISTORY: 60 year old, evaluate for seizure.\n"
              "MEDICATIONS: levetiracetam.\n"
              "DESCRIPTION OF THE RECORD: Diffuse slowing. Rare left temporal sharp waves.\n"
              "IMPRESSION: Abnormal EEG. No electrographic seizures were recorded.")
    lab = ex.labels(report)
    assert lab["seizure"] == 0  # the reason for study is not a finding
    assert lab["generalized_slowing"] == 1 and lab["ied_left_temporal"] == 1
    assert ex.labels("Possible left temporal sharp waves.")["ied_left_temporal"] == 1
    assert ex.labels("Possible left temporal sharp waves.", uncertain=0)["ied_left_temporal"] == 0
    # positive wins over a negative mention elsewhere in the report
    assert ex.labels("No left temporal spikes at rest. Left temporal spikes in sleep.")[
        "ied_left_temporal"] == 1
    assert ex.extract(None) == []


def test_custom_synonyms_and_plural():
    ex = ConceptExtractor({"spike": ["spike"], "alpha": ["alpha rhythm"]})
    assert [m.status for m in ex.extract("Spikes were absent.")] == ["negative"]
    assert ex.labels("A normal alpha rhythm.") == {"spike": 0, "alpha": 1}
    with pytest.raises(ValueError):
        ConceptExtractor({})


def test_measure_against_oracle():
    ex = ConceptExtractor({"a": ["alpha thing"], "b": ["beta thing"]})
    sessions = pd.DataFrame({"session_id": ["1", "2", "3", "4"],
                             "report": ["Alpha thing.", "No alpha thing. Beta thing.",
                                        "Beta thing.", "Normal."]})
    oracle = pd.DataFrame({"session_id": ["1", "2", "2", "4"], "concept": ["a", "a", "b", "b"],
                           "onset_s": [0, 0, 5, 9]})
    m = measure_extractor(sessions, oracle, ex).set_index("concept")
    # a: truth {1,2}, predicted {1} -> P=1, R=0.5; b: truth {2,4}, predicted {2,3} -> P=R=0.5
    assert m.loc["a", ["tp", "fp", "fn"]].tolist() == [1, 0, 1]
    assert m.loc["a", "precision"] == 1.0 and m.loc["a", "recall"] == 0.5
    assert m.loc["b", "precision"] == 0.5 and m.loc["b", "recall"] == 0.5
    assert m.loc["micro", "tp"] == 2 and m.loc["micro", "recall"] == pytest.approx(0.5)


def test_extractor_against_synthetic_oracle():
    """Precision/recall against the generator's true findings on held-out-split reports (which
    may name every concept); misses come from the reports' documented omissions and errors."""
    synth = pytest.importorskip("clef.synth.cohort")
    ids = synth.cohort_session_ids(120, 5, ("A", "B"), 60)
    sessions, _, oracle = synth.build_tables(5, ids)
    test = sessions[sessions["split"] == "test"]
    m = measure_extractor(test, oracle[oracle["category"] == "finding"]).set_index("concept")
    assert m.loc["micro", "precision"] > 0.9 and m.loc["micro", "recall"] > 0.8
    assert m.loc["micro", "n_true"] > 50


def test_label_frame_reads_each_distinct_report_once(ex, monkeypatch):
    reports = ["Frequent left temporal sharp waves.", "Normal awake EEG.",
               "Frequent left temporal sharp waves.", "No epileptiform discharges.",
               "Normal awake EEG."]
    one_by_one = pd.DataFrame([ex.labels(r) for r in reports],
                              columns=list(ex.synonyms)).astype("int8")
    read = []
    labels = ex.labels
    monkeypatch.setattr(ex, "labels", lambda r, **kw: read.append(r) or labels(r, **kw))
    frame = ex.label_frame(reports, index=[f"s{i}" for i in range(5)])
    assert sorted(read) == sorted(set(reports))  # three distinct reports, read once each
    assert frame.index.tolist() == [f"s{i}" for i in range(5)]
    assert (frame.dtypes == "int8").all() and frame.values.any()
    pd.testing.assert_frame_equal(frame.reset_index(drop=True), one_by_one)
    assert ex.label_frame(reports).index.tolist() == list(range(5))
