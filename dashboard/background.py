"""Work the dashboard does on a background thread: reading every report (its words for keyword
search, its findings for discordance) takes about a minute per 100k distinct reports, so a page
shows what it can meanwhile and says what it waits for."""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

import pandas as pd
import state


class _Worker:
    """One daemon thread running jobs in turn (a ThreadPoolExecutor's thread would hold the
    server's exit until a minute-long job ends)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        self._jobs.put((fut, fn, args))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="clef-reports",
                                                daemon=True)
                self._thread.start()
        return fut

    def _run(self) -> None:
        while True:
            fut, fn, args = self._jobs.get()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - kept for whoever asks
                    fut.set_exception(exc)


_JOBS: dict[tuple[str, str], Future] = {}  # (what, index folder) -> its result, made or making
_LOCK = threading.Lock()
_POOL = _Worker()


def _submit(what: str, index_path: str, make) -> Future:
    """``make(session_table)`` of the index at ``index_path`` on the background thread, once
    per ``what`` and index and process (a failure is kept and reported, not retried on every
    rerun). The table is loaded here, in the script run: the background thread calls no
    Streamlit function."""
    sessions = state.index().sessions
    with _LOCK:
        fut = _JOBS.get((what, index_path))
        if fut is None:
            fut = _JOBS[(what, index_path)] = _POOL.submit(make, sessions)
    return fut


def _reports(sessions: pd.DataFrame) -> tuple[list, list]:
    """(session ids, reports) of a session table."""
    return (sessions["session_id"].astype(str).tolist(),
            sessions["report"].tolist() if "report" in sessions else [None] * len(sessions))


def _report_index_future(index_path: str) -> Future:
    from clef.search import ReportIndex

    return _submit("report index", index_path, lambda s: ReportIndex(*_reports(s)))


def report_index_done() -> bool:
    """Whether building the keyword index has ended (built, or failed: then
    :func:`report_index_if_built` raises why); the first call starts it."""
    return _report_index_future(str(state.bundle().index)).done()


def report_index():
    """BM25 index of the reports (:class:`clef.search.ReportIndex`), in index row order; waits
    for it while it is being built (:func:`report_index_if_built`)."""
    return _report_index_future(str(state.bundle().index)).result()


def report_index_if_built():
    """:func:`report_index` when built, else None; the first call starts building it on a
    background thread (~1 min per 100k distinct reports). A failed build raises its error."""
    fut = _report_index_future(str(state.bundle().index))
    return fut.result() if fut.done() else None


def _mentions_future(index_path: str) -> Future:
    from clef.search import report_mentions

    def read(sessions):
        ids, reports = _reports(sessions)
        return report_mentions(reports, ids)

    return _submit("report mentions", index_path, read)


def report_mentions_done() -> bool:
    """Whether reading the reports' findings has ended (read, or failed: then
    :func:`report_mentions_if_read` raises why); the first call starts it."""
    return _mentions_future(str(state.bundle().index)).done()


def report_mentions() -> pd.DataFrame:
    """0/1 findings affirmed by each report (index row order, one column per finding); waits
    for them when they are still being read (:func:`report_mentions_if_read`)."""
    return _mentions_future(str(state.bundle().index)).result()


def report_mentions_if_read() -> pd.DataFrame | None:
    """:func:`report_mentions` when read, else None; the first call starts reading them on a
    background thread. A reading that failed raises its error."""
    fut = _mentions_future(str(state.bundle().index))
    return fut.result() if fut.done() else None

