"""Concept search in Chromium (issue 17): a result opens in the viewer, the evidence panel shows
affirmed and negated sentences apart, nonsense is flagged, and a few-shot concept from 10 planted
positives ranks held-out sessions above chance. Fixtures (server, browser, page) are the ones of
test_browser.py."""
from __future__ import annotations

# ruff: noqa: F811 - the fixtures imported from test_browser are used as arguments
import re

import pandas as pd
import pytest
from test_browser import (  # noqa: F401 - pytest fixtures, used by name
    _idle,
    _no_exception,
    _reports_indexed,
    _shot,
    browser,
    bundle_root,
    page,
    server,
)

from clef import search
from clef.bundle import Bundle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PLANTED_TASK = "generalized_slowing"


def _search(page, server, text: str) -> None:
    page.goto(f"{server}/search")
    _reports_indexed(page)  # searched with the reports' words too
    box = page.get_by_label("Describe what you are looking for")
    box.fill(text)
    box.press("Enter")
    page.get_by_text("sessions for", exact=False).first.wait_for()
    _idle(page)


def _sessions(bundle_root) -> pd.DataFrame:
    return pd.read_parquet(Bundle.locate(bundle_root).index / "sessions.parquet")


def test_result_opens_in_viewer(page, server):
    _search(page, server, "burst suppression")
    button = page.get_by_role("button", name=re.compile(r"^Open .+ in the session viewer$"))
    sid = re.match(r"Open (\S+) in", button.inner_text()).group(1)
    button.click()
    page.get_by_role("heading", name="Session viewer").wait_for()
    _idle(page)
    _no_exception(page)
    assert f"session={sid}" in page.url
    page.get_by_text("Double banana", exact=False).first.wait_for()  # the traces are drawn
    assert page.locator('[data-testid="stSelectbox"] input').first.input_value() == sid


def test_evidence_shows_affirmed_and_negated_apart(page, server, bundle_root):
    s = _sessions(bundle_root)
    hits = search.ReportIndex(s["session_id"], s["report"]).search("slowing", k=20)
    rank = None
    for i, sid in enumerate(hits["session_id"]):
        ev = search.statement_evidence(s.set_index("session_id").loc[sid, "report"], "slowing")
        if {"affirmed", "negated"} <= set(ev.loc[ev["match"], "polarity"]):
            rank = i + 1
            break
    assert rank is not None
    _search(page, server, "slowing")
    page.get_by_text("Report only", exact=True).click()
    _idle(page)
    if rank > 1:
        page.get_by_label("Evidence for (or click a row)").click()
        page.get_by_role("option", name=re.compile(rf"^#{rank} ")).click()
        _idle(page)
    affirmed = page.get_by_text("affirmed:", exact=False).first
    negated = page.get_by_text("negated:", exact=False).first
    affirmed.wait_for()
    negated.wait_for()
    assert page.locator("del", has_text=re.compile("slowing", re.IGNORECASE)).count() >= 1  # struck out
    assert affirmed.evaluate("e => getComputedStyle(e).backgroundColor") != \
        negated.evaluate("e => getComputedStyle(e).backgroundColor")
    _no_exception(page)
    _shot(page, "search_evidence")


def test_nonsense_query_warns(page, server):
    _search(page, server, "asdfgh")
    page.get_by_text("No good match", exact=False).first.wait_for()
    _no_exception(page)


def test_fewshot_from_planted_positives(page, server, bundle_root):
    s = _sessions(bundle_root)
    labels = pd.read_parquet(Bundle.locate(bundle_root).index / "labels.parquet") \
        .set_index("session_id")
    if PLANTED_TASK not in labels.columns:
        pytest.skip(f"bundle has no {PLANTED_TASK} labels")
    y = labels[PLANTED_TASK].reindex(s["session_id"]).fillna(-1).to_numpy()
    planted = s["session_id"][(s["split"] == "train").to_numpy() & (y == 1)].head(10).tolist()
    if len(planted) < 10:
        pytest.skip("too few labelled sessions in this bundle")
    page.goto(f"{server}/search")
    page.get_by_role("tab", name="Concept from examples").click()
    box = page.get_by_label("Examples (positive)")
    for sid in planted:
        box.click()
        box.fill(sid)
        page.get_by_role("option", name=sid, exact=True).click()
        _idle(page)
    page.get_by_label("Check against a task (held-out sessions)").click()
    page.keyboard.type(PLANTED_TASK)  # the long list is virtualised: filter it first
    page.get_by_role("option", name=PLANTED_TASK, exact=True).click()
    _idle(page)
    metric = page.locator('[data-testid="stMetric"]', has_text="held-out")
    metric.first.wait_for()
    value = float(metric.first.locator('[data-testid="stMetricValue"]').inner_text())
    assert value > 0.7  # chance is 0.5
    _no_exception(page)
    _shot(page, "search_fewshot")
