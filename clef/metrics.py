"""AUROC (rank form, ties averaged) and percentile bootstrap intervals: the one definition the
probes (``clef.probe``) and concept search (``clef.search.auroc_on``) share."""
from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def _clean(y, score) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    s = np.asarray(score, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"auroc: labels ({y.size}) and scores ({s.size}) differ in length.")
    keep = np.isfinite(y)  # NA labels are not part of the task
    y, s = y[keep], s[keep]
    if not np.isfinite(s).all():
        raise ValueError("auroc: scores contain NaN or Inf. Fix: check the representation.")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("auroc: labels must be 0/1 (NA allowed).")
    return y, s


def auroc(y, score) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos * n_neg), tied scores count one half).

    Parameters
    ----------
    y : array of 0/1, shape (n,)
        Labels; NaN entries are ignored.
    score : array, shape (n,)
        Higher means more likely positive.

    Returns
    -------
    float
        AUROC in [0, 1]; NaN when only one class is present.
    """
    y, s = _clean(y, score)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _auroc_rows(y: np.ndarray, s: np.ndarray) -> np.ndarray:
    """AUROC of each row of (n_boot, n) label/score matrices; NaN where a row has one class."""
    ranks = rankdata(s, axis=1)  # (n_boot, n)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    u = (ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        out = u / (n_pos * n_neg)
    out[(n_pos == 0) | (n_neg == 0)] = np.nan
    return out


def bootstrap_auroc(y, score, n_boot: int = 200, seed: int = 0, alpha: float = 0.05,
                    groups=None) -> tuple[float, float]:
    """Percentile bootstrap interval for the AUROC.

    Parameters
    ----------
    y, score : arrays, shape (n,)
        Labels (0/1, NaN ignored) and scores.
    n_boot : int
        Bootstrap resamples; resamples with a single class are discarded.
    seed : int
        Seed of the resampling.
    alpha : float
        1 - coverage (0.05 gives a 95% interval).
    groups : array, shape (n,), optional
        Cluster labels (patient ids): whole patients are resampled, so sessions of one patient
        stay together.

    Returns
    -------
    (low, high) : tuple of float
        NaN when no resample has both classes or ``n_boot`` is 0.
    """
    y_all = np.asarray(y, dtype=np.float64).ravel()
    keep = np.isfinite(y_all)
    y, s = _clean(y, score)
    if n_boot <= 0 or y.size == 0 or y.min() == y.max():
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    if groups is None:
        idx = rng.integers(0, y.size, size=(n_boot, y.size))  # (n_boot, n)
        stats = _auroc_rows(y[idx], s[idx])
    else:
        g = np.asarray(groups).ravel()[keep]
        _, inv = np.unique(g, return_inverse=True)
        members = np.argsort(inv, kind="stable")
        starts = np.searchsorted(inv[members], np.arange(inv.max() + 2))
        stats = np.empty(n_boot)
        for b in range(n_boot):
            pick = rng.integers(0, starts.size - 1, size=starts.size - 1)
            idx = np.concatenate([members[starts[p]:starts[p + 1]] for p in pick])
            stats[b] = _auroc_rows(y[idx][None], s[idx][None])[0]
    stats = stats[np.isfinite(stats)]
    if stats.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(stats, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)
