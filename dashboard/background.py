"""Work the dashboard does on a background thread (:class:`clef.explore.BackgroundJobs`):
reading every report (its words for keyword search, its findings for discordance) takes about a
minute per 100k distinct reports, so a page shows what it can meanwhile and says what it waits
for. Each job runs once per index and process; a failure is kept and shown, not retried."""
from __future__ import annotations

from concurrent.futures import Future

import pandas as pd
import state

from clef import explore

JOBS = explore.BackgroundJobs("clef-reports")


def _start(what: str, make) -> Future:
    """``make(session_table)`` for this bundle's index, under ``(what, index folder)``. The table
    is read here, in the script run: the background thread calls no Streamlit function."""
    return JOBS.start((what, str(state.bundle().index)), make, state.index().sessions)


def _reports(sessions: pd.DataFrame) -> tuple[list, list]:
    """(session ids, reports) of a session table."""
    return (sessions["session_id"].astype(str).tolist(),
            sessions["report"].tolist() if "report" in sessions else [None] * len(sessions))


def _build_index(sessions: pd.DataFrame):
    from clef.search import ReportIndex

    return ReportIndex(*_reports(sessions))


def _read_mentions(sessions: pd.DataFrame) -> pd.DataFrame:
    from clef.search import report_mentions

    ids, reports = _reports(sessions)
    return report_mentions(reports, ids)


def report_index_done() -> bool:
    """Whether building the keyword index has ended (built, or failed: then
    :func:`report_index_if_built` raises why); the first call starts it."""
    return _start("report index", _build_index).done()


def report_index():
    """BM25 index of the reports (:class:`clef.search.ReportIndex`), in index row order; waits
    for it while it is being built (:func:`report_index_if_built`)."""
    return _start("report index", _build_index).result()


def report_index_if_built():
    """:func:`report_index` when built, else None; the first call starts building it on a
    background thread (~1 min per 100k distinct reports). A failed build raises its error."""
    fut = _start("report index", _build_index)
    return fut.result() if fut.done() else None


def report_mentions_done() -> bool:
    """Whether reading the reports' findings has ended (read, or failed: then
    :func:`report_mentions_if_read` raises why); the first call starts it."""
    return _start("report mentions", _read_mentions).done()


def report_mentions() -> pd.DataFrame:
    """0/1 findings affirmed by each report (index row order, one column per finding); waits
    for them when they are still being read (:func:`report_mentions_if_read`)."""
    return _start("report mentions", _read_mentions).result()


def report_mentions_if_read() -> pd.DataFrame | None:
    """:func:`report_mentions` when read, else None; the first call starts reading them on a
    background thread. A reading that failed raises its error."""
    fut = _start("report mentions", _read_mentions)
    return fut.result() if fut.done() else None
