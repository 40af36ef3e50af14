"""The text pipeline: statements with polarity/certainty, findings summaries, clinician queries."""
import pytest

from clef.errors import InvalidQuery
from clef.text import findings_summary, split_statements
from clef.text.queries import expand, parse_query, query_prompts, templates_for
from clef.text.statements import classify

REPORT = """CLINICAL HISTORY: 40-year-old woman with spells; rule out seizures.
MEDICATIONS: levetiracetam.
DESCRIPTION OF THE RECORD: The posterior dominant rhythm is 9.5 Hz and reactive. There are
rare left temporal sharp waves, but no focal slowing is seen. Photic stimulation did not produce
a driving response. Epileptiform discharges cannot be excluded.
IMPRESSION: Abnormal EEG due to left temporal sharp waves.
CLINICAL CORRELATION: A normal EEG does not exclude epilepsy.
"""


@pytest.mark.parametrize("clause, polarity, certainty", [
    ("No focal slowing is seen.", "negated", "certain"),
    ("There were no electrographic seizures.", "negated", "certain"),
    ("Sharp waves were not seen.", "negated", "certain"),
    ("Rare left temporal sharp waves.", "affirmed", "certain"),
    ("Epileptiform discharges cannot be excluded.", "affirmed", "hedged"),
    ("Focal slowing is not ruled out.", "affirmed", "hedged"),
    ("Possible left temporal sharp waves.", "affirmed", "hedged"),
    ("The background is not without slowing.", "affirmed", "certain"),  # double negation
    ("Slowing was not absent.", "affirmed", "certain"),  # double negation
    ("No definite epileptiform discharges.", "negated", "certain"),
    ("No significant change with hyperventilation.", "affirmed", "certain"),  # pseudo-negation
])
def test_classify_polarity_and_certainty(clause, polarity, certainty):
    assert classify(clause) == (polarity, certainty)


def test_split_statements_keeps_record_sections_and_clauses():
    st = split_statements(REPORT)
    texts = [s.text for s in st]
    assert not any("levetiracetam" in t or "rule out" in t or "does not exclude" in t
                   for t in texts)  # history, medications and correlation are skipped
    assert "The posterior dominant rhythm is 9.5 Hz and reactive." in texts  # decimal kept
    by = {s.text: s for s in st}
    assert by["There are rare left temporal sharp waves."].polarity == "affirmed"
    assert by["No focal slowing is seen."].polarity == "negated"  # split at "but"
    assert by["Epileptiform discharges cannot be excluded."].certainty == "hedged"
    assert by["Abnormal EEG due to left temporal sharp waves."].section == "IMPRESSION"
    summary = findings_summary(st)
    assert "sharp waves" in summary and "focal slowing" not in summary
    assert "driving" not in summary  # a negated statement never reaches the summary


def test_split_statements_empty_and_headerless():
    assert split_statements(None) == [] and split_statements("  ") == []
    st = split_statements("No spikes. Diffuse slowing is present.")
    assert [(s.text, s.polarity) for s in st] == [("No spikes.", "negated"),
                                                  ("Diffuse slowing is present.", "affirmed")]


@pytest.mark.parametrize("typed, core", [
    ("L temporal IEDs", "left temporal interictal epileptiform discharges"),
    ("FIRDA", "frontal intermittent rhythmic delta activity"),
    ("sharps at T4", "sharp waves at right temporal"),
    ("C3/T3 spikes", "left centrotemporal spikes"),
    ("LPDs on the right", "lateralized periodic discharges on the right"),
    ("N2 sleep with spindles", "stage 2 sleep with spindles"),
])
def test_expand_abbreviations_and_electrodes(typed, core):
    assert expand(typed) == core


def test_parse_query_negation_and_errors():
    q = parse_query("no epileptiform discharges")
    assert q.negated and q.core == "epileptiform discharges"
    assert parse_query("LPDs were not seen").core == "lateralized periodic discharges"
    assert not parse_query("possible LPDs").negated
    with pytest.raises(InvalidQuery, match="empty"):
        parse_query("   ")
    with pytest.raises(InvalidQuery, match="characters"):
        parse_query("spikes " * 200)


def test_prompts_never_call_normal_findings_abnormal():
    assert not any("bnormal" in t for t in templates_for("normal_pdr"))
    assert not any("bnormal" in t for t in templates_for("sleep_spindles"))
    assert not any("bnormal" in t for t in templates_for("lpds"))
    prompts = query_prompts(parse_query("normal EEG"))
    assert prompts and not any("bnormal" in p for p in prompts)


def test_polarity_words_are_contrasted_with_their_antonym():
    import numpy as np

    from clef.text.queries import antonym, prompt_vector
    assert antonym("Abnormal EEG due to normal variants") == "normal EEG due to abnormal variants"
    space = {"normal EEG": [1.0, 0.9], "abnormal EEG": [0.9, 1.0], "spikes": [0.0, 1.0]}

    def enc(texts):
        return np.array([space[t] for t in texts])
    v = prompt_vector(["abnormal EEG"], enc)
    a, n = np.array(space["abnormal EEG"]), np.array(space["normal EEG"])
    assert v @ a > v @ n  # contrasted: the abnormal side wins although the two are close
    assert np.allclose(prompt_vector(["spikes"], enc), [0.0, 1.0])  # no polarity word: plain
