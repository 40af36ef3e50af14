"""Hybrid search: the EEG model's ranking and the report keyword ranking, fused by reciprocal
rank fusion (RRF), with each source's rank kept visible."""
from __future__ import annotations

import numpy as np
import pandas as pd

RRF_K = 60  # the usual RRF constant (Cormack et al., 2009): damps the very top ranks
SOURCES = ("both", "report", "EEG")


def ranks(scores: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """1-based rank of every session by descending score (0 where masked out).

    Parameters
    ----------
    scores : np.ndarray
        (n,) scores.
    mask : np.ndarray of bool, optional
        (n,) sessions that take part.

    Returns
    -------
    np.ndarray
        int64, (n,).
    """
    s = np.asarray(scores, dtype=np.float64)
    ok = np.isfinite(s) if mask is None else (np.asarray(mask, dtype=bool) & np.isfinite(s))
    rows = np.flatnonzero(ok)
    order = rows[np.argsort(-s[rows], kind="stable")]
    out = np.zeros(len(s), dtype=np.int64)
    out[order] = np.arange(1, len(order) + 1)
    return out


def percentile(scores: np.ndarray) -> np.ndarray:
    """Percentile of each score within the cohort (100 = the best-scoring session).

    Parameters
    ----------
    scores : np.ndarray
        (n,) scores of the whole cohort.

    Returns
    -------
    np.ndarray
        float64, (n,): the percentage of sessions scoring at or below each one.
    """
    s = np.asarray(scores, dtype=np.float64)
    order = np.sort(s)
    return 100.0 * np.searchsorted(order, s, side="right") / max(len(s), 1)


def _ids_at(session_ids, rows: np.ndarray) -> np.ndarray:
    """``session_ids[rows]`` as str, converting only those rows (a 100k-row column of Arrow strings
    takes ~50 ms to convert whole)."""
    return pd.Series(session_ids).iloc[rows].to_numpy().astype(str)


def fuse(eeg_scores: np.ndarray, report_scores: np.ndarray, session_ids, *, k: int = 20,
         mask: np.ndarray | None = None, depth: int = 100, rrf_k: int = RRF_K) -> pd.DataFrame:
    """Reciprocal rank fusion of the EEG ranking and the report keyword ranking.

    Parameters
    ----------
    eeg_scores : np.ndarray
        (n,) model score of every session (cosine with the query vector).
    report_scores : np.ndarray
        (n,) BM25 score of every session's report (0: no query word; see ``ReportIndex``).
    session_ids : sequence of str
        (n,) ids in the same order.
    k : int
        Rows returned.
    mask : np.ndarray of bool, optional
        Sessions allowed by the filters.
    depth : int
        Each source contributes its best ``depth`` sessions; a session counts as found by a
        source when it is among them.
    rrf_k : int
        RRF constant: ``score = sum over sources of 1 / (rrf_k + rank)``.

    Returns
    -------
    pd.DataFrame
        ``rank``, ``row``, ``session_id``, ``fused`` (RRF score), ``eeg_rank``, ``report_rank``
        (0 = not in that source's best ``depth``), ``source`` ("both", "report" or "EEG"),
        ``eeg_score``, ``eeg_percentile`` (against the whole cohort), ``report_score``.
    """
    e = np.asarray(eeg_scores, dtype=np.float64)
    r = np.asarray(report_scores, dtype=np.float64)
    m = np.ones(len(e), bool) if mask is None else np.asarray(mask, dtype=bool)
    er = ranks(e, m)
    rr = ranks(np.where(r > 0, r, np.nan), m)
    er = np.where(er <= depth, er, 0)
    rr = np.where(rr <= depth, rr, 0)
    fused = (np.where(er > 0, 1.0 / (rrf_k + er), 0.0) + np.where(rr > 0, 1.0 / (rrf_k + rr), 0.0))
    rows = np.flatnonzero(fused > 0)
    rows = rows[np.lexsort((-e[rows], -fused[rows]))][: int(k)]
    source = np.where((er[rows] > 0) & (rr[rows] > 0), "both",
                      np.where(rr[rows] > 0, "report", "EEG"))
    return pd.DataFrame({
        "rank": np.arange(1, len(rows) + 1), "row": rows,
        "session_id": _ids_at(session_ids, rows), "fused": fused[rows],
        "eeg_rank": er[rows], "report_rank": rr[rows], "source": source,
        "eeg_score": e[rows].astype(np.float32),
        "eeg_percentile": percentile(e)[rows].round(1), "report_score": r[rows].astype(np.float32),
    })


def single_source(scores: np.ndarray, session_ids, *, k: int = 20,
                  mask: np.ndarray | None = None) -> pd.DataFrame:
    """The best ``k`` sessions of one source (``row``, ``session_id``, ``score``, ``rank``);
    scores <= 0 never count for keyword scores, so pass NaN for "not found"."""
    s = np.asarray(scores, dtype=np.float64)
    rk = ranks(s, mask)
    rows = np.flatnonzero(rk > 0)
    rows = rows[np.argsort(rk[rows])][: int(k)]
    return pd.DataFrame({"row": rows, "session_id": _ids_at(session_ids, rows),
                         "score": s[rows], "rank": rk[rows]})


__all__ = ["RRF_K", "SOURCES", "fuse", "percentile", "ranks", "single_source"]
