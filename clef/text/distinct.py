"""Reading each distinct report once: templated reports ("Normal awake and asleep EEG.") repeat
word for word across a cohort, and reading one (statements, findings, keyword terms) is the slow
part of indexing a 100k-session cohort."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np


def read_each_once(reports: Iterable, read: Callable[[Any], Any]) -> tuple[list, np.ndarray]:
    """``read(report)`` once per distinct report.

    Parameters
    ----------
    reports : iterable
        Hashable items (str, or None for no report).
    read : callable
        Applied to each distinct item.

    Returns
    -------
    results : list
        One per distinct report, in order of first appearance.
    which : np.ndarray
        int64, (n_reports,): each report's position in ``results``.
    """
    first: dict = {}
    which = np.fromiter((first.setdefault(r, len(first)) for r in reports), np.int64)
    return [read(r) for r in first], which
