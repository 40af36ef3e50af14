"""AUROC (rank form, ties averaged) and percentile bootstrap intervals: the one definition the
probes (``clef.probe``) and concept search (``clef.search.auroc_on``) share; the Mann-Whitney U
test of cohort profiles, from ranks made once per table."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr
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


@dataclass(frozen=True)
class RankedValues:
    """Values ranked once, so a Mann-Whitney U test of any split of them costs one masked sum
    (:func:`mannwhitney_split`) instead of a sort.

    Attributes
    ----------
    values : np.ndarray
        (n,) float64, NaN where missing.
    ranks : np.ndarray
        (n,) float64: average ranks (1-based) among the finite values, NaN elsewhere.
    tie_term : float
        Sum over groups of equal finite values of ``t**3 - t``.
    """

    values: np.ndarray
    ranks: np.ndarray
    tie_term: float


def rank_values(values) -> RankedValues:
    """Rank values for :func:`mannwhitney_split` (non-numbers and NaN count as missing)."""
    v = np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)  # (n,)
    finite = np.isfinite(v)
    ranks = np.full(len(v), np.nan)
    ranks[finite] = rankdata(v[finite])
    t = np.unique(v[finite], return_counts=True)[1].astype(float)
    return RankedValues(v, ranks, float(np.sum(t**3 - t)))


def mannwhitney_split(ranked: RankedValues, sel: np.ndarray) -> float:
    """Two-sided p of a Mann-Whitney U test of the finite values in ``sel`` against the other
    finite values, as ``scipy.stats.mannwhitneyu(x, y)`` computes it by default: the normal
    approximation with continuity and tie corrections (its exact test where scipy would use it:
    a group of at most 8 values and no ties). NaN when a group is empty.

    Parameters
    ----------
    ranked : RankedValues
        From :func:`rank_values`.
    sel : np.ndarray
        (n,) bool, the first group.
    """
    finite = np.isfinite(ranked.values)
    s1 = np.asarray(sel, dtype=bool) & finite
    n1 = int(s1.sum())
    n2 = int(finite.sum()) - n1
    if n1 == 0 or n2 == 0:
        return float("nan")
    if min(n1, n2) <= 8 and ranked.tie_term == 0:
        from scipy.stats import mannwhitneyu

        return float(mannwhitneyu(ranked.values[s1], ranked.values[finite & ~s1]).pvalue)
    u1 = float(ranked.ranks[s1].sum()) - n1 * (n1 + 1) / 2
    u = max(u1, n1 * n2 - u1)
    n = n1 + n2
    sd = np.sqrt(n1 * n2 / 12 * ((n + 1) - ranked.tie_term / (n * (n - 1))))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (u - n1 * n2 / 2 - 0.5) / sd
    return float(np.clip(2 * ndtr(-z), 0.0, 1.0))
