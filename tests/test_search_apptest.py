"""Concept search page (issue 17), through Streamlit's AppTest: a result opens in the viewer (at a
minute too), the evidence panel shows affirmed and negated sentences apart, nonsense is flagged,
filters take names, and a few-shot concept from 10 planted positives ranks held-out sessions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from clef import search
from clef.bundle import Bundle

pytestmark = pytest.mark.slow

APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
TIMEOUT = 180
PLANTED_TASK = "generalized_slowing"


@pytest.fixture(scope="module")
def bundle_root(find_or_build_bundle) -> Path:
    return find_or_build_bundle()


@pytest.fixture()
def page(bundle_root, monkeypatch, tmp_path):
    for name in ("CLEF_STORE", "CLEF_INDEX", "CLEF_CHECKPOINT", "CLEF_COHORT", "CLEF_MAP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLEF_BUNDLE", str(bundle_root))
    monkeypatch.setenv(search.CONCEPTS_ENV, str(tmp_path / "concepts"))  # never ~/.clef
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/concept_search.py")
    at.run()
    _reports_read(at)
    return at


def _reports_read(at) -> None:
    """Wait for the reports' keyword index and findings (read on a background thread; the page
    reruns by itself in a browser), then run the page again."""
    import background  # dashboard/, on sys.path while the app runs

    background.report_index()
    background.report_mentions()
    at.run()
    _ok(at)


def _ok(at) -> None:
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _results(at) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "found by" in d.value.columns)


def _query(at, text: str, **widgets) -> None:
    for key, value in widgets.items():
        getattr(at, "radio" if key == "search_mode" else "slider")(key=key).set_value(value)
    at.text_input(key="search_query").set_value(text).run()
    _ok(at)


def test_result_row_opens_in_viewer_and_minute_jumps(page):
    _query(page, "burst suppression")
    ids = _results(page)["session_id"].tolist()
    assert _results(page)["viewer"].iloc[2] == f"viewer?session={ids[2]}"  # a link per row
    page.selectbox(key="search_evidence").set_value(ids[2]).run()
    _ok(page)
    page.button(key="search_to_viewer").click().run()
    _ok(page)
    assert page.title[0].value == "Session viewer"
    assert page.query_params.get("session") in (ids[2], [ids[2]])
    assert page.selectbox(key="viewer_id").value == ids[2]


def test_minute_button_opens_viewer_at_that_time(page):
    _query(page, "burst suppression")
    sid = _results(page)["session_id"].iloc[0]
    minute = page.button(key="search_minute_0")
    label = minute.label
    minute.click().run()
    _ok(page)
    assert page.title[0].value == "Session viewer"
    t = page.query_params.get("t")
    t = t[0] if isinstance(t, list) else t
    assert float(t) == pytest.approx(float(label.split()[0]) * 60.0, abs=3.0)
    assert page.query_params.get("session") in (sid, [sid])


def test_evidence_shows_affirmed_and_negated_apart(page, bundle_root):
    _query(page, "slowing", search_mode="report", search_k=100)
    res = _results(page)
    sessions = pd.read_parquet(Bundle.locate(bundle_root).index / "sessions.parquet") \
        .set_index("session_id")
    pick = None
    for sid in res["session_id"]:
        ev = search.statement_evidence(sessions.loc[sid, "report"], "slowing")
        hits = ev[ev["match"]]
        if {"affirmed", "negated"} <= set(hits["polarity"]):
            pick = sid
            break
    assert pick is not None, "no result with both an affirmed and a negated 'slowing' sentence"
    page.selectbox(key="search_evidence").set_value(pick).run()
    _ok(page)
    lines = [m.value for m in page.markdown]
    affirmed = [x for x in lines if ":material/check_circle: affirmed:" in x]
    negated = [x for x in lines if ":material/block: negated:" in x]
    assert affirmed and negated
    assert all(":green-background[" in x for x in affirmed)
    assert all(":red-background[" in x and "~~" in x for x in negated)


def test_nonsense_query_warns_real_query_does_not(page):
    _query(page, "asdfgh")
    assert any("No good match" in w.value for w in page.warning)
    _query(page, "generalized slowing")
    assert not any("No good match" in w.value for w in page.warning)


def test_page_says_how_a_query_was_read(page):
    _query(page, "no LPDs")
    said = " ".join(c.value for c in page.caption)
    assert "read as “lateralized periodic discharges”" in said
    assert "negated" in said and "linked to “lateralized periodic discharges”" in said


def test_long_query_is_shortened_and_names_filter(page):
    long = "generalized slowing " * 20
    _query(page, long.strip())
    head = next(s.value for s in page.subheader if s.value.startswith("Top "))
    assert len(head) < 120 and "…" in head
    page.text_input(key="search_dx").set_value("epilepsy").run()
    _ok(page)
    res = _results(page)
    assert len(res) > 0
    assert all(any(c.startswith(("G40", "G41")) for c in d.split("; ")) for d in res["diagnoses"])
    page.text_input(key="search_dx").set_value("flurbish").run()
    assert any("unknown diagnosis" in e.value for e in page.error)


def test_example_pills_are_all_scored(page):
    for pill in page.pills(key="search_example").options:
        page.pills(key="search_example").set_value(pill).run()
        _ok(page)
        assert any("AUROC" in m.label and "held-out" in m.label for m in page.metric), pill


def test_fewshot_concept_from_ten_planted_positives(page, bundle_root):
    idx = Bundle.locate(bundle_root).index
    sessions = pd.read_parquet(idx / "sessions.parquet")
    labels = pd.read_parquet(idx / "labels.parquet").set_index("session_id")
    if PLANTED_TASK not in labels.columns:
        pytest.skip(f"bundle has no {PLANTED_TASK} labels")
    y = labels[PLANTED_TASK].reindex(sessions["session_id"]).fillna(-1).to_numpy()
    train = (sessions["split"] == "train").to_numpy()
    test = (sessions["split"] == "test").to_numpy()
    if (train & (y == 1)).sum() < 10 or (test & (y == 1)).sum() < 3:
        pytest.skip("too few labelled sessions in this bundle")
    planted = sessions["session_id"][train & (y == 1)].head(10).tolist()
    page.session_state["concept_positives"] = planted
    page.run()
    _ok(page)
    page.selectbox(key="fewshot_check").set_value(PLANTED_TASK).run()
    _ok(page)
    metrics = {m.label: m.value for m in page.metric}
    held = [v for k, v in metrics.items() if "held-out" in k and PLANTED_TASK in k]
    assert held and float(held[0]) > 0.7, metrics  # chance is 0.5
    assert float(metrics["Cross-validated AUROC on the examples"]) > 0.5
    page.text_input(key="fewshot_name").set_value("planted slowing").run()
    page.button(key="fewshot_save").click().run()
    _ok(page)
    assert search.list_concepts() == ["planted slowing"]
    page.run()  # the search tab, drawn before the save, lists it from the next run on
    page.selectbox(key="search_saved").set_value("planted slowing").run()
    _ok(page)
    top = _results(page)["session_id"].tolist()
    assert np.mean([y[sessions.index[sessions["session_id"] == s][0]] == 1 for s in top]) > 0.5


def test_typed_query_lives_in_the_url(page, bundle_root, monkeypatch):
    _query(page, "FIRDA")
    assert page.query_params.get("q") in ("FIRDA", ["FIRDA"])  # a shared link carries it
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/concept_search.py")
    at.query_params["q"] = "left temporal sharp waves"
    at.run()
    _ok(at)
    assert at.text_input(key="search_query").value == "left temporal sharp waves"


def test_marked_result_reaches_the_concept_tab(page):
    """The search tab is a fragment (a query reruns it alone); marking a result reruns the page,
    so "Concept from examples" lists the mark at once."""
    import keys  # dashboard/, on sys.path while the app runs

    _query(page, "burst suppression")
    ids = _results(page)["session_id"].tolist()
    page.button(key="search_mark_pos").click().run()
    _ok(page)
    assert page.session_state[keys.CONCEPT_POSITIVES] == [ids[0]]
    assert page.multiselect(key=keys.CONCEPT_POSITIVES).value == [ids[0]]
    page.selectbox(key="search_evidence").set_value(ids[1]).run()
    page.button(key="search_mark_neg").click().run()
    _ok(page)
    assert page.multiselect(key=keys.CONCEPT_NEGATIVES).value == [ids[1]]


def test_discordance_tab_fills_in_once_the_reports_are_read(page):
    """The reports are read for findings on a background thread: the page does not wait for
    them (a minute at 100k sessions); the tab says so, then shows the discordance table."""
    import threading

    import background  # dashboard/, on sys.path while the app runs
    import state

    index_path = str(state.bundle().index)
    release = threading.Event()
    background.JOBS.start(("held", release), release.wait, 60)  # the one thread is busy
    background.JOBS.forget(("report mentions", index_path))  # so they are read again, after it
    try:
        _query(page, "generalized slowing")  # the search tab works meanwhile
        assert any("Reading which findings" in i.value for i in page.info)
        assert len(_results(page)) > 0
    finally:
        release.set()
    mentions = background.report_mentions()
    page.run()
    _ok(page)
    assert not any("Reading which findings" in i.value for i in page.info)
    finding = page.selectbox(key="disc_finding")
    table = next(d.value for d in page.dataframe if "report mentions" in d.value.columns)
    assert finding.value in mentions.columns and "EEG percentile" in table.columns
    assert any(h.value.endswith(search.DIRECTIONS[page.radio(key="disc_direction").value])
               for h in page.subheader)


def test_search_ranks_by_the_eeg_while_the_reports_are_indexed(page):
    """Until the reports' keyword index is built (in the background, ~1 min per 100k reports)
    a query is answered by the EEG alone, with a note; then the fused ranking returns."""
    import threading

    import background  # dashboard/, on sys.path while the app runs
    import state

    index_path = str(state.bundle().index)
    release = threading.Event()
    background.JOBS.start(("held", release), release.wait, 60)
    background.JOBS.forget(("report index", index_path))
    try:
        _query(page, "burst suppression")
        assert any("Indexing the words of" in i.value for i in page.info)
        assert set(_results(page)["found by"]) == {"EEG"}
    finally:
        release.set()
    background.report_index()
    page.run()
    _ok(page)
    assert not any("Indexing the words of" in i.value for i in page.info)
    assert set(_results(page)["found by"]) & {"both", "report"}  # the reports count again


def test_search_says_why_when_the_reports_cannot_be_indexed(page, monkeypatch):
    import time

    import background  # dashboard/, on sys.path while the app runs
    import state

    import clef.search

    def broken(ids, reports):
        raise ValueError("reports unreadable. Fix: check the index's sessions.parquet.")

    monkeypatch.setattr(clef.search, "ReportIndex", broken)
    key = ("report index", str(state.bundle().index))
    background.JOBS.forget(key)
    try:
        for _ in range(600):  # starts building it (with the broken class), waits for the end
            if background.report_index_done():
                break
            time.sleep(0.1)
        page.text_input(key="search_query").set_value("burst suppression").run()
        assert not page.exception, [e.message for e in page.exception]
        assert any("reports unreadable" in e.value for e in page.error), [e.value for e in page.error]
        assert not any("Indexing the words of" in i.value for i in page.info)
        assert set(_results(page)["found by"]) == {"EEG"}  # the EEG still answers
    finally:
        background.JOBS.forget(key)  # the next test builds it again
