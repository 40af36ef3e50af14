"""Report-EEG discordance: sessions whose EEG scores high for a finding their report does not
mention, or whose report names a finding their EEG scores low for (a quality-review list).

On a synthetic cohort the generator's truth says which list entries are real: a report that
omitted a present finding (EEG high, report silent, truth 1) or named an absent one (report says,
EEG low, truth 0). :func:`discordance_precision` measures that against the base rate.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from clef.search.fusion import percentile
from clef.text.extract import ConceptExtractor

DIRECTIONS = {"eeg_only": "EEG scores high, report does not mention it",
              "report_only": "report mentions it, EEG scores low"}


def report_mentions(reports, session_ids, concepts=None) -> pd.DataFrame:
    """Which findings each report affirms (hedged mentions count; negated ones do not).

    Parameters
    ----------
    reports : sequence of str or None
    session_ids : sequence of str
    concepts : sequence of str, optional
        Finding names to keep (default: every finding the extractor knows).

    Returns
    -------
    pd.DataFrame
        int8 0/1, index ``session_id``, one column per finding.
    """
    frame = ConceptExtractor().label_frame([r if isinstance(r, str) else "" for r in reports],
                                           index=[str(s) for s in session_ids])
    return frame if concepts is None else frame[[c for c in concepts if c in frame.columns]]


def discordant(eeg_scores: np.ndarray, mentioned: np.ndarray, direction: str = "eeg_only", *,
               top_percent: float = 10.0, has_report: np.ndarray | None = None) -> np.ndarray:
    """Rows of discordant sessions, most discordant first.

    Parameters
    ----------
    eeg_scores : np.ndarray
        (n,) EEG score of every session for the finding (higher = more like it).
    mentioned : np.ndarray
        (n,) 1 where the report affirms the finding.
    direction : {"eeg_only", "report_only"}
        "eeg_only": EEG in the cohort's top ``top_percent`` and the report silent;
        "report_only": report affirms it and EEG in the bottom ``top_percent``.
    top_percent : float
    has_report : np.ndarray of bool, optional
        Sessions without a report can say nothing, so they are never listed.

    Returns
    -------
    np.ndarray
        int64 row numbers.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not one of {list(DIRECTIONS)}")
    s = np.asarray(eeg_scores, dtype=np.float64)
    m = np.asarray(mentioned).astype(bool)
    ok = np.ones(len(s), bool) if has_report is None else np.asarray(has_report, dtype=bool)
    pct = percentile(s)
    if direction == "eeg_only":
        rows = np.flatnonzero(ok & ~m & (pct > 100.0 - top_percent))
        return rows[np.argsort(-s[rows], kind="stable")]
    rows = np.flatnonzero(ok & m & (pct <= top_percent))
    return rows[np.argsort(s[rows], kind="stable")]


@dataclass(frozen=True)
class DiscordancePrecision:
    """Precision of a discordance list against the generator's truth.

    Attributes
    ----------
    precision : float
        Share of listed sessions that are real discordances.
    base_rate : float
        The same share over every session the list could have picked (report silent, or report
        affirming): what a random pick would reach.
    n_listed, n_true : int
    """

    precision: float
    base_rate: float
    n_listed: int
    n_true: int


def discordance_precision(rows: np.ndarray, mentioned: np.ndarray, truth: np.ndarray,
                          direction: str = "eeg_only",
                          has_report: np.ndarray | None = None) -> DiscordancePrecision:
    """Measure a discordance list against true labels (1 present, 0 absent, -1 unknown).

    Parameters
    ----------
    rows : np.ndarray
        From :func:`discordant`.
    mentioned, truth : np.ndarray
        (n,) report mention and true label of every session.
    direction : {"eeg_only", "report_only"}
    has_report : np.ndarray of bool, optional

    Returns
    -------
    DiscordancePrecision
    """
    y = np.asarray(truth)
    m = np.asarray(mentioned).astype(bool)
    ok = (y >= 0) if has_report is None else (y >= 0) & np.asarray(has_report, dtype=bool)
    real = (y == 1) if direction == "eeg_only" else (y == 0)
    pool = ok & (~m if direction == "eeg_only" else m)
    listed = np.asarray(rows, dtype=np.int64)
    listed = listed[ok[listed]] if len(listed) else listed
    n_true = int(real[listed].sum()) if len(listed) else 0
    prec = n_true / len(listed) if len(listed) else float("nan")
    base = float(real[pool].mean()) if pool.any() else float("nan")
    return DiscordancePrecision(prec, base, len(listed), n_true)


__all__ = ["DIRECTIONS", "DiscordancePrecision", "discordance_precision", "discordant",
           "report_mentions"]
