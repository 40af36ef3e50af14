"""Cohort profile of a selection against the rest: rates, effect sizes, p/q-values, tables and bars."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import plotly.graph_objects as go

PROFILE_NUMERIC = ("age", "duration_s")  # numeric columns compared by mean and Cohen's d
PROFILE_CATEGORICAL = ("sex", "site", "setting")  # one row per level
PROFILE_LISTS = ("diagnoses", "medications")  # list-valued columns: one row per item


def ids_key(ids) -> str:
    """Short digest of a list of session ids, cheap to hash as a cache key.

    Parameters
    ----------
    ids : iterable of str
        Session ids, in order.

    Returns
    -------
    str
        32 hex characters; equal lists give equal keys.
    """
    data = "\0".join(map(str, ids)).encode()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def selection_mask(session_ids: pd.Series | Sequence[str], selected) -> np.ndarray:
    """Boolean mask over ``session_ids`` for a selection given as ids or as a boolean mask.

    Parameters
    ----------
    session_ids : sequence of str
        The cohort's session ids, in table order.
    selected : iterable of str or array of bool
        Selected session ids, or a boolean mask of the same length as ``session_ids``.

    Returns
    -------
    np.ndarray
        bool, (n_sessions,).
    """
    arr = np.asarray(list(selected) if not isinstance(selected, np.ndarray) else selected)
    if arr.dtype == bool:
        if arr.shape != (len(session_ids),):
            raise ValueError(f"selected: boolean mask has shape {arr.shape}, expected "
                             f"({len(session_ids)},). Fix: pass one flag per session or a list "
                             "of ids.")
        return arr
    ids = pd.Index(np.asarray(session_ids, dtype=object))
    return np.asarray(ids.isin(arr.astype(object)), dtype=bool)


def _rate_stats(a: np.ndarray, n1: int, c: np.ndarray, n0: int) -> dict[str, np.ndarray]:
    """Enrichment of item counts ``a`` of ``n1`` (selection) vs ``c`` of ``n0`` (rest)."""
    a = a.astype(float)
    c = c.astype(float)
    b = n1 - a  # selection without the item
    d = n0 - c  # rest without the item
    p1 = np.divide(a, n1, out=np.full_like(a, np.nan), where=n1 > 0)
    p0 = np.divide(c, n0, out=np.full_like(c, np.nan), where=n0 > 0)
    # Sample odds ratio; Haldane-Anscombe +0.5 only for tables with a zero cell.
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    h = np.where(zero, 0.5, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = ((a + h) * (d + h)) / ((b + h) * (c + h))
    cohen_h = 2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p0))
    return {"rate_sel": p1, "rate_rest": p0, "rate_diff": p1 - p0, "odds_ratio": odds,
            "effect": cohen_h, "p_value": _two_by_two_p(a, b, c, d)}


def _two_by_two_p(a, b, c, d) -> np.ndarray:
    """Two-sided p of 2x2 tables [[a, b], [c, d]]: Pearson chi-square (1 dof, no continuity
    correction, vectorised) when every expected count is >= 5 (Cochran's rule), else Fisher's
    exact test (a few ms per table, so only where the chi-square approximation is poor)."""
    from scipy import stats  # imported here: the map page renders before anyone profiles

    a, b, c, d = (np.asarray(v, dtype=float) for v in (a, b, c, d))
    n = a + b + c + d
    r1, r2, c1, c2 = a + b, c + d, a + c, b + d
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.minimum.reduce([r1 * c1, r1 * c2, r2 * c1, r2 * c2]) / n
        chi2 = n * (a * d - b * c) ** 2 / (r1 * r2 * c1 * c2)
    p = stats.chi2.sf(chi2, 1)
    small = ~(expected >= 5)
    for i in np.flatnonzero(small):
        p[i] = (stats.fisher_exact([[a[i], b[i]], [c[i], d[i]]])[1]
                if r1[i] > 0 and r2[i] > 0 else np.nan)
    return p


def _fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values, NaN kept."""
    q = np.full_like(p, np.nan, dtype=float)
    ok = np.isfinite(p)
    if ok.any():
        from scipy import stats

        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def _explode_lists(values: pd.Series) -> tuple[np.ndarray, pd.Categorical]:
    """(row positions, items) of a list-valued column; an item repeated in one row counts once."""
    vals = values.to_numpy(dtype=object)
    is_list = np.fromiter((isinstance(v, (list, tuple, np.ndarray)) for v in vals), bool,
                          len(vals))
    ex = pd.Series(np.where(is_list, vals, None), index=np.arange(len(vals))).explode().dropna()
    pairs = pd.DataFrame({"pos": ex.index.to_numpy(np.int64), "item": ex.astype(str).to_numpy()})
    pairs = pairs.drop_duplicates()
    # categorical: each profile factorizes the items again, which a Categorical makes cheap
    return pairs["pos"].to_numpy(np.int64), pd.Categorical(pairs["item"].to_numpy(dtype=object))


@dataclass
class CohortProfile:
    """A selection's profile against the rest of the cohort.

    Attributes
    ----------
    n_selected, n_rest : int
        Group sizes.
    numeric : pd.DataFrame
        One row per numeric column: mean/sd per group, Cohen's d (``effect``), Mann-Whitney p.
    categorical : pd.DataFrame
        One row per (variable, level): counts, rates, ``rate_diff``, ``odds_ratio``,
        Cohen's h (``effect``), ``p_value`` (chi-square, or Fisher's exact test for small
        expected counts) and BH ``q_value``; sorted by |effect|.
    """

    n_selected: int
    n_rest: int
    numeric: pd.DataFrame
    categorical: pd.DataFrame = field(repr=False)

    def top(self, n: int = 15, variable: str | None = None) -> pd.DataFrame:
        """The ``n`` rows with the largest |effect| (optionally of one variable)."""
        df = self.categorical
        if variable is not None:
            df = df[df["variable"] == variable]
        return df.head(n)


@dataclass(frozen=True)
class ProfilePrep:
    """What :func:`cohort_profile` computes once per table (:func:`prepare_profile`).

    Attributes
    ----------
    lists : dict
        ``{column: (row positions, items)}`` of list-valued columns (:func:`explode_lists`).
    ranks : dict
        ``{column: RankedValues}`` of numeric columns (:func:`clef.metrics.rank_values`).
    """

    lists: dict
    ranks: dict


def prepare_profile(sessions: pd.DataFrame, numeric: Iterable[str] = PROFILE_NUMERIC,
                    lists: Iterable[str] = PROFILE_LISTS) -> ProfilePrep:
    """The slow, selection-free parts of a profile at 100k sessions, for :func:`cohort_profile`:
    list columns exploded and numeric columns ranked (so each Mann-Whitney test is one sum)."""
    from clef.metrics import rank_values

    return ProfilePrep(explode_lists(sessions, lists),
                       {c: rank_values(sessions[c]) for c in numeric if c in sessions.columns})


def explode_lists(sessions: pd.DataFrame, columns: Iterable[str] = PROFILE_LISTS
                  ) -> dict[str, tuple[np.ndarray, pd.Categorical]]:
    """``{column: (row positions, items)}`` of list-valued columns, for :func:`cohort_profile`
    (compute once per table: it is the slow part of a profile at 100k sessions)."""
    return {c: _explode_lists(sessions[c]) for c in columns if c in sessions.columns}


def cohort_profile(sessions: pd.DataFrame, selected, *, numeric: Iterable[str] = PROFILE_NUMERIC,
                   categorical: Iterable[str] = PROFILE_CATEGORICAL,
                   lists: Iterable[str] = PROFILE_LISTS, min_count: int = 1,
                   prepared: ProfilePrep | None = None) -> CohortProfile:
    """Compare a selection of sessions with the rest of the cohort.

    Parameters
    ----------
    sessions : pd.DataFrame
        Session table (``clef.cohort`` contract) with a ``session_id`` column.
    selected : iterable of str or array of bool
        Selected session ids, or a boolean mask aligned with ``sessions``.
    numeric, categorical, lists : iterable of str
        Columns to profile; missing ones are skipped.
    min_count : int
        Drop levels/items seen fewer than this many times in the whole cohort.
    prepared : ProfilePrep, optional
        :func:`prepare_profile` of this same table (reused instead of recomputed).

    Returns
    -------
    CohortProfile
    """
    from clef.metrics import mannwhitney_split, rank_values

    if "session_id" not in sessions.columns:
        raise ValueError("sessions: no 'session_id' column. Fix: pass the cohort's session table.")
    sel = selection_mask(sessions["session_id"], selected)
    n1, n0 = int(sel.sum()), int((~sel).sum())

    num_rows = []
    for col in numeric:
        if col not in sessions.columns:
            continue
        ranked = prepared.ranks.get(col) if prepared is not None else None
        if ranked is None:
            ranked = rank_values(sessions[col])
        v = ranked.values
        x1, x0 = v[sel & np.isfinite(v)], v[~sel & np.isfinite(v)]
        m1 = float(x1.mean()) if x1.size else np.nan
        m0 = float(x0.mean()) if x0.size else np.nan
        s1 = float(x1.std(ddof=1)) if x1.size > 1 else np.nan
        s0 = float(x0.std(ddof=1)) if x0.size > 1 else np.nan
        dof = x1.size + x0.size - 2
        pooled = (np.sqrt(((x1.size - 1) * s1**2 + (x0.size - 1) * s0**2) / dof)
                  if dof > 0 and x1.size > 1 and x0.size > 1 else np.nan)
        d = (m1 - m0) / pooled if pooled and np.isfinite(pooled) and pooled > 0 else np.nan
        p = mannwhitney_split(ranked, sel)
        num_rows.append({"variable": col, "mean_sel": m1, "mean_rest": m0, "sd_sel": s1,
                         "sd_rest": s0, "effect": d, "p_value": p})
    num_df = pd.DataFrame(num_rows, columns=["variable", "mean_sel", "mean_rest", "sd_sel",
                                             "sd_rest", "effect", "p_value"])

    frames = []
    for col in list(categorical) + list(lists):
        if col not in sessions.columns:
            continue
        if col in lists:
            pos, items = (prepared.lists[col] if prepared is not None and col in prepared.lists
                          else _explode_lists(sessions[col]))
            codes, uniq = pd.factorize(items)  # (pairs,), (items,)
        else:
            codes, uniq = pd.factorize(sessions[col])  # (n,); -1: missing
            pos = np.flatnonzero(codes >= 0)
            codes = codes[pos]
        if len(codes) == 0:
            continue
        uniq = np.asarray(uniq, dtype=object).astype(str)
        in_sel = sel[pos]
        a = np.bincount(codes[in_sel], minlength=len(uniq))
        c = np.bincount(codes[~in_sel], minlength=len(uniq))
        keep_items = (a + c) >= min_count
        st = _rate_stats(a[keep_items], n1, c[keep_items], n0)
        frames.append(pd.DataFrame({"variable": col, "level": np.asarray(uniq)[keep_items],
                                    "n_sel": a[keep_items], "n_rest": c[keep_items], **st}))
    cols = ["variable", "level", "n_sel", "n_rest", "rate_sel", "rate_rest", "rate_diff",
            "odds_ratio", "effect", "p_value", "q_value"]
    if frames:
        cat = pd.concat(frames, ignore_index=True)
        cat["q_value"] = _fdr(cat["p_value"].to_numpy(float))
        cat = cat.reindex(cat["effect"].abs().sort_values(ascending=False, na_position="last")
                          .index).reset_index(drop=True)[cols]
    else:
        cat = pd.DataFrame(columns=cols)
    return CohortProfile(n1, n0, num_df, cat)


def _named(t: pd.DataFrame, names: dict | None) -> pd.DataFrame:
    """Diagnosis levels as ``"code name"`` (:func:`clef.explore.clusters.diagnosis_names`)."""
    if not names or t.empty:
        return t
    t = t.copy()
    dx = t["variable"] == "diagnoses"
    t.loc[dx, "level"] = [f"{c} {names[c]}" if c in names else c for c in t.loc[dx, "level"]]
    return t


def profile_table(profile: CohortProfile, n: int = 40, names: dict | None = None
                  ) -> pd.DataFrame:
    """The profile's categorical rows, rounded, top ``n`` by |effect|; diagnosis codes followed
    by their names when ``names`` (code -> name) is given."""
    t = _named(profile.top(n), names)
    for c in ("rate_sel", "rate_rest", "rate_diff", "effect"):
        t[c] = t[c].astype(float).round(3)
    t["odds_ratio"] = t["odds_ratio"].astype(float).round(2)
    for c in ("p_value", "q_value"):
        t[c] = t[c].astype(float).map(lambda v: f"{v:.2g}")
    return t.rename(columns={"effect": "cohen_h"})


def profile_figure(profile: CohortProfile, n: int = 15, names: dict | None = None) -> go.Figure:
    """Bars of the rate difference (selection - rest) of the most enriched/depleted items."""
    t = _named(profile.top(n), names).iloc[::-1]
    labels = t["variable"].astype(str) + ": " + t["level"].astype(str)
    fig = go.Figure(go.Bar(
        x=t["rate_diff"], y=labels, orientation="h",
        marker_color=np.where(t["rate_diff"] >= 0, "crimson", "#4062bb"),
        customdata=np.stack([t["rate_sel"], t["rate_rest"], t["odds_ratio"], t["q_value"]], axis=1)
        if len(t) else None,
        hovertemplate="%{y}<br>selected %{customdata[0]:.1%} vs rest %{customdata[1]:.1%}"
                      "<br>OR %{customdata[2]:.2f} · q %{customdata[3]:.2g}<extra></extra>"))
    fig.update_layout(height=max(260, 22 * len(t) + 60), margin={"l": 10, "r": 10, "t": 30,
                                                                 "b": 40},
                      title=f"Enrichment: {profile.n_selected:,} selected vs "
                            f"{profile.n_rest:,} others", xaxis_title="rate difference",
                      xaxis_tickformat=".0%")
    return fig
