"""Metadata filters of a session index: which sessions a search may return, as a boolean mask."""
from __future__ import annotations

import numpy as np
import pandas as pd

from clef.errors import InvalidQuery


def filter_mask(sessions: pd.DataFrame, labels: pd.DataFrame | None, *, site=None, age=None,
                sex=None, setting=None, diagnosis=None, medication=None, task=None,
                session_ids=None) -> np.ndarray | None:
    """Boolean (N,) mask of sessions matching every given filter (None when no filter).

    Parameters
    ----------
    sessions : DataFrame
        The index's session table (row = FAISS id).
    labels : DataFrame or None
        Task labels aligned row by row with ``sessions``.
    site, sex, setting : str or list of str, optional
        Exact match (any of the list).
    age : (min, max), optional
        Inclusive range in years; either bound may be None. Unknown ages never match.
    diagnosis : str or list of str, optional
        ICD-10 code or prefix ("G40" matches "G40.909"); a session matches if any of its
        diagnoses starts with any of them.
    medication : str or list of str, optional
        Generic name(s), case-insensitive; a session matches if it takes any of them.
    task : str, list of str or dict {task: label}, optional
        Task label(s): a name means label == 1; a dict gives the wanted label per task.
    session_ids : iterable of str, optional
        Restrict to these sessions.
    """
    s = sessions
    mask = np.ones(len(s), dtype=bool)
    used = False

    def col(name):
        if name not in s.columns:
            raise InvalidQuery(f"filter on {name!r}, but this index has no {name!r} column "
                               f"(columns: {list(s.columns)}). Fix: drop that filter.")
        return s[name]

    for name, value in (("site", site), ("sex", sex), ("setting", setting)):
        if value is not None:
            values = [value] if isinstance(value, str) else list(value)
            mask &= col(name).astype(str).isin([str(v) for v in values]).to_numpy()
            used = True
    if age is not None:
        mask &= _age_in(col("age"), *age)
        used = True
    if diagnosis is not None:
        prefixes = tuple(str(p).upper() for p in ([diagnosis] if isinstance(diagnosis, str)
                                                  else diagnosis))
        if not prefixes or not all(prefixes):
            raise InvalidQuery("diagnosis filter is empty. Fix: give a code such as 'G40'.")
        mask &= np.array([any(str(c).upper().startswith(prefixes) for c in _as_list(v))
                          for v in col("diagnoses")], dtype=bool)
        used = True
    if medication is not None:
        meds = {str(m).lower() for m in ([medication] if isinstance(medication, str)
                                         else medication)}
        mask &= np.array([bool(meds & {str(c).lower() for c in _as_list(v)})
                          for v in col("medications")], dtype=bool)
        used = True
    if task is not None:
        mask &= _task_mask(labels, task)
        used = True
    if session_ids is not None:
        mask &= s["session_id"].isin([str(i) for i in session_ids]).to_numpy()
        used = True
    return mask if used else None


def _age_in(ages: pd.Series, lo, hi) -> np.ndarray:
    """Known ages within [lo, hi] (either bound may be None)."""
    a = pd.to_numeric(ages, errors="coerce").to_numpy(dtype=float)
    ok = ~np.isnan(a)
    if lo is not None:
        ok &= a >= lo
    if hi is not None:
        ok &= a <= hi
    return ok


def _task_mask(labels: pd.DataFrame | None, task) -> np.ndarray:
    """Sessions whose task labels are the wanted ones (a name means label == 1)."""
    wanted = ({task: 1} if isinstance(task, str) else
              dict(task) if isinstance(task, dict) else {t: 1 for t in task})
    if labels is None:
        raise InvalidQuery("task filter given, but this index has no task labels. "
                           "Fix: embed a cohort with a tasks table, or drop the filter.")
    mask = np.ones(len(labels), dtype=bool)
    for name, label in wanted.items():
        if name not in labels.columns:
            known = [c for c in labels.columns if c != "session_id"]
            raise InvalidQuery(f"unknown task {name!r}. Fix: pick one of {known[:20]}")
        mask &= (labels[name] == label).fillna(False).to_numpy(dtype=bool)
    return mask


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        if pd.isna(value):
            return []
    except (TypeError, ValueError):
        pass
    return list(value)
