"""clef.search: keyword index, fusion, trust (task matching, null), evidence, discordance and
few-shot concepts, on small hand-made data (no model)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clef import search
from clef.errors import InvalidConcept

REPORTS = [
    "HISTORY: seizures.\nFINDINGS: Right temporal LPDs at 1 Hz. IMPRESSION: Abnormal EEG.",
    "FINDINGS: There is no focal slowing. No LPDs. There is generalized slowing.",
    None,
    "FINDINGS: Left temporal sharp waves. IMPRESSION: Abnormal EEG: left temporal spikes.",
    "HISTORY: focal slowing was seen before.\nFINDINGS: Normal background. IMPRESSION: Normal EEG.",
]
IDS = [f"s{i}" for i in range(len(REPORTS))]
TASKS = pd.DataFrame({"task": ["lpds", "generalized_slowing", "ied_left_temporal",
                               "ied_right_temporal", "abnormal_eeg", "benzodiazepine_class",
                               "gsw_3hz", "excess_beta", "epilepsy_any"],
                      "concept": ["lateralized periodic discharges", "generalized slowing",
                                  "left temporal epileptiform discharges",
                                  "right temporal epileptiform discharges", "abnormal EEG",
                                  "benzodiazepine medication", "generalized 3 Hz spike-and-wave",
                                  "excess beta activity", "epilepsy"]})


@pytest.fixture(scope="module")
def index():
    return search.ReportIndex(IDS, REPORTS)


def test_keyword_reads_negation_sections_and_abbreviations(index):
    assert index.search("LPDs")["session_id"].tolist() == ["s0"]
    assert index.search("lateralized periodic discharges")["session_id"].tolist() == ["s0"]
    assert index.search("no LPDs")["session_id"].tolist() == ["s1"]
    # "no focal slowing" and history text never make a report a focal-slowing hit
    assert index.search("focal slowing")["session_id"].tolist() == ["s1"]  # via "slowing" only
    assert "s4" not in index.search("focal slowing")["session_id"].tolist()
    assert index.search("asdfgh").empty
    assert index.has_report.tolist() == [True, True, False, True, True]
    hits = index.search("sharp waves at T3")
    assert hits["session_id"].iloc[0] == "s3"


def test_keyword_index_reads_a_repeated_report_once(monkeypatch):
    import clef.search.keyword as kw

    split = []
    monkeypatch.setattr(kw, "split_statements", lambda r: split.append(r) or
                        __import__("clef.text.statements", fromlist=["x"]).split_statements(r))
    reports = REPORTS + [REPORTS[0], REPORTS[3], None]  # s5, s6 repeat s0, s3 word for word
    idx = search.ReportIndex([f"s{i}" for i in range(len(reports))], reports)
    assert sorted(split) == sorted({r for r in reports if isinstance(r, str)})
    for q in ("LPDs", "sharp waves at T3", "no LPDs"):
        s = idx.scores(q)
        assert s[5] == s[0] and s[6] == s[3] and s[7] == 0, q
    assert idx.has_report.tolist() == [True, True, False, True, True, True, True, False]
    assert set(idx.search("LPDs")["session_id"]) == {"s0", "s5"}


def test_keyword_mask_and_errors(index):
    mask = np.array([False, True, True, True, True])
    assert index.search("LPDs", mask=mask).empty
    with pytest.raises(ValueError, match="reports for"):
        search.ReportIndex(["a"], ["x", "y"])
    assert search.stem("discharges") == "discharge" and search.stem("complexes") == "complex"


def test_fusion_ranks_and_sources():
    eeg = np.array([0.9, 0.1, 0.8, 0.2, 0.3])
    rep = np.array([0.0, 2.0, 0.0, 1.0, 0.0])
    out = search.fuse(eeg, rep, IDS, k=5, depth=2)
    by = out.set_index("session_id")
    assert by.loc["s0", "source"] == "EEG" and by.loc["s0", "eeg_rank"] == 1
    assert by.loc["s1", "source"] == "report" and by.loc["s1", "report_rank"] == 1
    assert set(out["session_id"]) == {"s0", "s1", "s2", "s3"}  # s4: in neither top 2
    both = search.fuse(eeg, np.array([3.0, 0, 0, 0, 0]), IDS, k=3, depth=3)
    assert both["source"].iloc[0] == "both" and both["session_id"].iloc[0] == "s0"
    assert both["fused"].is_monotonic_decreasing
    # a session without a report (s2) is still found by the EEG
    assert "s2" in out["session_id"].tolist()
    masked = search.fuse(eeg, rep, IDS, k=5, mask=np.array([0, 1, 1, 1, 1], bool))
    assert "s0" not in masked["session_id"].tolist()
    # ids as a Series (Arrow strings, a shuffled index): taken by position, as str
    ids = pd.Series(IDS, index=[4, 2, 0, 3, 1], dtype="string[pyarrow]")
    for got in (search.fuse(eeg, rep, ids, k=5, depth=2),
                search.single_source(eeg, ids, k=5)):
        assert got["session_id"].tolist() == [IDS[r] for r in got["row"]]
        assert all(type(s) is str for s in got["session_id"])


def test_percentile_and_ranks():
    s = np.array([0.1, 0.5, 0.3, 0.9])
    assert search.percentile(s).tolist() == [25.0, 75.0, 50.0, 100.0]
    assert search.ranks(s).tolist() == [4, 2, 3, 1]
    assert search.ranks(s, np.array([1, 0, 1, 1], bool)).tolist() == [3, 0, 2, 1]


@pytest.mark.parametrize("query,task,inverted", [
    ("left temporal sharp waves", "ied_left_temporal", False),
    ("benzodiazepine effect", "benzodiazepine_class", False),
    ("3 Hz spike-and-wave", "gsw_3hz", False),
    ("excess beta activity", "excess_beta", False),
    ("normal EEG", "abnormal_eeg", True),
    ("no LPDs", "lpds", True),
    ("R temporal LPDs", "lpds", False),
    ("sharps at T4", "ied_right_temporal", False),
    ("epilepsy", "epilepsy_any", False),
    ("asdfgh", None, False),
])
def test_match_query_task(query, task, inverted):
    m = search.match_query_task(query, TASKS)
    assert (m.task, m.inverted if task else False) == (task, inverted)


def test_match_strength_against_null():
    null = np.linspace(0.30, 0.40, 20)
    strong = search.match_strength(np.r_[np.full(10, 0.6), np.zeros(100)], null)
    weak = search.match_strength(np.r_[np.full(10, 0.33), np.zeros(100)], null)
    assert strong.beats_null and strong.null_percentile == 100.0
    assert not weak.beats_null and weak.null_percentile < 50
    # a shared offset is not a match: the same scores shifted up by 0.5 keep their strength
    shifted = search.match_strength(np.r_[np.full(10, 0.33), np.zeros(100)] + 0.5, null)
    assert shifted.statistic == pytest.approx(weak.statistic) and not shifted.beats_null
    e = np.eye(4, dtype=np.float32)
    stats = search.null_statistics(e, lambda t: e[len(t) % 4], texts=("a", "bb"), top=1)
    assert stats.tolist() == [1.0, 1.0]  # best 1.0, median 0.0


def test_auroc_on_equals_sklearn_with_ties_and_unlabelled():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(3)
    for n in (7, 200, 5000):
        s = rng.integers(0, 12, n).astype(float) / 7  # many ties
        y = rng.choice([-1, 0, 1], n, p=[0.2, 0.5, 0.3])
        keep = rng.random(n) < 0.7
        for k in (None, keep):
            ok = (y >= 0) if k is None else (y >= 0) & k
            if len(set(y[ok])) < 2:
                continue
            got, n_pos, n_neg = search.auroc_on(s, y, k)
            assert got == pytest.approx(roc_auc_score(y[ok], s[ok]), abs=1e-12)
            assert (n_pos, n_neg) == (int((y[ok] == 1).sum()), int((y[ok] == 0).sum()))


def test_auroc_on_held_out_only():
    s = np.array([0.9, 0.8, 0.1, 0.2, 0.95, 0.05])
    y = np.array([1, 1, 0, 0, 0, 1])
    keep = np.array([1, 1, 1, 1, 0, 0], bool)
    assert search.auroc_on(s, y, keep)[0] == 1.0
    assert search.auroc_on(s, y)[0] < 1.0
    assert np.isnan(search.auroc_on(s, np.array([1, 1, -1, -1, -1, -1]))[0])


def test_statement_evidence_marks_affirmed_and_negated():
    ev = search.statement_evidence(REPORTS[1], "focal slowing")
    neg = ev[ev["text"].str.contains("no focal slowing")].iloc[0]
    assert neg["polarity"] == "negated" and bool(neg["match"])
    aff = ev[ev["text"].str.contains("generalized slowing")].iloc[0]
    assert aff["polarity"] == "affirmed" and bool(aff["match"])
    assert search.statement_evidence(None, "x").empty
    hist = search.statement_evidence(REPORTS[4], "focal slowing")
    assert not hist["text"].str.contains("before").any()  # history is not findings


def test_timeline_hit_and_chance():
    tl = pd.DataFrame({"time_patch": range(10), "start_min": np.arange(10) * 0.4,
                       "score": [0, 0, 0, 0, 0, 0, 0.9, 0, 0, 0.1]})
    hit, chance = search.timeline_hit(tl, [(150.0, 10.0)], patch_s=24.0, n=1)
    assert hit and chance == pytest.approx(0.1)
    miss, _ = search.timeline_hit(tl, [(10.0, 5.0)], patch_s=24.0, n=1)
    assert not miss
    assert search.top_minutes(tl, 2)["time_patch"].tolist() == [6, 9]


def test_laterality_line():
    r = pd.DataFrame({"region": ["left_temporal", "right_temporal", "midline"],
                      "side": ["left", "right", "midline"], "score": [0.5, 0.2, 0.1],
                      "vs_whole": [0.1, -0.2, -0.3]})
    assert search.laterality(r).startswith("left regions match better")
    assert search.laterality(r.iloc[2:]) == ""


def test_discordance_lists_and_precision():
    eeg = np.array([0.9, 0.8, 0.1, 0.2, 0.7, 0.05, 0.6, 0.3, 0.4, 0.5])
    mentioned = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 0])
    truth = np.array([1, 1, 0, 0, 0, 1, 1, 0, 0, 0])
    rows = search.discordant(eeg, mentioned, "eeg_only", top_percent=30)
    assert rows.tolist() == [0, 4]  # top 30% = rows 0, 1, 4; row 1 is mentioned
    p = search.discordance_precision(rows, mentioned, truth, "eeg_only")
    assert (p.precision, p.n_listed, p.n_true) == (0.5, 2, 1)
    assert p.base_rate == pytest.approx(2 / 7)
    rev = search.discordant(eeg, mentioned, "report_only", top_percent=20)
    assert rev.tolist() == [5, 2]
    pr = search.discordance_precision(rev, mentioned, truth, "report_only")
    assert pr.precision == 0.5 and pr.base_rate == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        search.discordant(eeg, mentioned, "sideways")


def test_report_mentions_reads_negation():
    m = search.report_mentions(REPORTS, IDS, ["lpds", "generalized_slowing",
                                              "focal_slowing_left_temporal"])
    assert m.loc["s0", "lpds"] == 1 and m.loc["s1", "lpds"] == 0
    assert m.loc["s1", "generalized_slowing"] == 1


def _planted(n=400, d=16, n_pos=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = np.zeros(n, int)
    y[:n_pos] = 1
    x[y == 1, 0] += 2.5
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, y, np.array([f"p{i}" for i in range(n)])


def test_fewshot_ranks_planted_positives_and_round_trips(tmp_path, monkeypatch):
    x, y, ids = _planted()
    train = np.arange(len(ids)) % 2 == 0
    pos = ids[train & (y == 1)][:10]
    c = search.fit_concept(x[train], ids[train], pos, name="Planted spikes", model="abc")
    assert c.sampled_negatives == 50 and 0.5 < c.cv_auroc <= 1.0
    held = ~train
    auc, n_pos, _ = search.auroc_on(c.scores(x[held]), y[held])
    assert n_pos == 20 and auc > 0.8
    monkeypatch.setenv(search.CONCEPTS_ENV, str(tmp_path / "concepts"))
    path = search.save_concept(c)
    assert path.parent == tmp_path / "concepts" and json.loads(path.read_text())["model"] == "abc"
    assert search.list_concepts() == ["Planted spikes"]
    back = search.load_concept("planted spikes")
    assert np.allclose(back.scores(x), c.scores(x))


def test_fewshot_refuses_bad_input(tmp_path):
    x, _, ids = _planted(n=50)
    with pytest.raises(InvalidConcept, match="at least"):
        search.fit_concept(x, ids, ids[:2], name="x")
    with pytest.raises(InvalidConcept, match="not in this cohort"):
        search.fit_concept(x, ids, ["nope", *ids[:3]], name="x")
    with pytest.raises(InvalidConcept, match="no name"):
        search.fit_concept(x, ids, ids[:5], name="  ")
    with pytest.raises(InvalidConcept, match="no saved concept"):
        search.load_concept("missing", folder=tmp_path)
    c = search.fit_concept(x, ids, ids[:5], ids[5:10], name="y")
    assert c.sampled_negatives == 0
    with pytest.raises(InvalidConcept, match="refit"):
        c.scores(np.zeros((3, 4)))
    assert search.concepts_dir(None).name == "concepts"
