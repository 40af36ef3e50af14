"""Exploration helpers behind the dashboard: cohort profiles, concept scores and timelines, figures.

Everything here is plain numpy/pandas/plotly so the dashboard pages stay thin and the logic is
testable without a browser. This module never imports Streamlit.
"""
from __future__ import annotations

import functools
import io
import os
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.errors import ClefError, InvalidQuery, InvalidRecording, UnsupportedFormat
from clef.session import Session

# --------------------------------------------------------------------------------------------
# Cohort profile of a selection against the rest
# --------------------------------------------------------------------------------------------

PROFILE_NUMERIC = ("age", "duration_s")  # numeric columns compared by mean and Cohen's d
PROFILE_CATEGORICAL = ("sex", "site", "setting")  # one row per level
PROFILE_LISTS = ("diagnoses", "medications")  # list-valued columns: one row per item


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
    ids = pd.Index(np.asarray(session_ids, dtype=object))
    arr = np.asarray(list(selected) if not isinstance(selected, np.ndarray) else selected)
    if arr.dtype == bool:
        if arr.shape != (len(ids),):
            raise ValueError(f"selected: boolean mask has shape {arr.shape}, expected "
                             f"({len(ids)},). Fix: pass one flag per session or a list of ids.")
        return arr
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


def _explode_lists(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(row positions, items) of a list-valued column; an item repeated in one row counts once."""
    vals = values.to_numpy(dtype=object)
    is_list = np.fromiter((isinstance(v, (list, tuple, np.ndarray)) for v in vals), bool,
                          len(vals))
    ex = pd.Series(np.where(is_list, vals, None), index=np.arange(len(vals))).explode().dropna()
    pairs = pd.DataFrame({"pos": ex.index.to_numpy(np.int64), "item": ex.astype(str).to_numpy()})
    pairs = pairs.drop_duplicates()
    return pairs["pos"].to_numpy(np.int64), pairs["item"].to_numpy(dtype=object)


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


def explode_lists(sessions: pd.DataFrame, columns: Iterable[str] = PROFILE_LISTS
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{column: (row positions, items)}`` of list-valued columns, for :func:`cohort_profile`
    (compute once per table: it is the slow part of a profile at 100k sessions)."""
    return {c: _explode_lists(sessions[c]) for c in columns if c in sessions.columns}


def cohort_profile(sessions: pd.DataFrame, selected, *, numeric: Iterable[str] = PROFILE_NUMERIC,
                   categorical: Iterable[str] = PROFILE_CATEGORICAL,
                   lists: Iterable[str] = PROFILE_LISTS, min_count: int = 1,
                   exploded: dict | None = None) -> CohortProfile:
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
    exploded : dict, optional
        :func:`explode_lists` of this same table (reused instead of recomputed).

    Returns
    -------
    CohortProfile
    """
    if "session_id" not in sessions.columns:
        raise ValueError("sessions: no 'session_id' column. Fix: pass the cohort's session table.")
    sel = selection_mask(sessions["session_id"], selected)
    n1, n0 = int(sel.sum()), int((~sel).sum())

    num_rows = []
    for col in numeric:
        if col not in sessions.columns:
            continue
        v = pd.to_numeric(sessions[col], errors="coerce").to_numpy(float)
        x1, x0 = v[sel & np.isfinite(v)], v[~sel & np.isfinite(v)]
        m1 = float(x1.mean()) if x1.size else np.nan
        m0 = float(x0.mean()) if x0.size else np.nan
        s1 = float(x1.std(ddof=1)) if x1.size > 1 else np.nan
        s0 = float(x0.std(ddof=1)) if x0.size > 1 else np.nan
        dof = x1.size + x0.size - 2
        pooled = (np.sqrt(((x1.size - 1) * s1**2 + (x0.size - 1) * s0**2) / dof)
                  if dof > 0 and x1.size > 1 and x0.size > 1 else np.nan)
        d = (m1 - m0) / pooled if pooled and np.isfinite(pooled) and pooled > 0 else np.nan
        from scipy import stats

        p = (float(stats.mannwhitneyu(x1, x0).pvalue) if x1.size and x0.size else np.nan)
        num_rows.append({"variable": col, "mean_sel": m1, "mean_rest": m0, "sd_sel": s1,
                         "sd_rest": s0, "effect": d, "p_value": p})
    num_df = pd.DataFrame(num_rows, columns=["variable", "mean_sel", "mean_rest", "sd_sel",
                                             "sd_rest", "effect", "p_value"])

    frames = []
    for col in list(categorical) + list(lists):
        if col not in sessions.columns:
            continue
        if col in lists:
            pos, items = (exploded[col] if exploded is not None and col in exploded
                          else _explode_lists(sessions[col]))
        else:
            vals = sessions[col]
            keep = vals.notna().to_numpy()
            pos = np.flatnonzero(keep)
            items = vals[keep].astype(str).to_numpy()
        if items.size == 0:
            continue
        codes, uniq = pd.factorize(items)
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


# --------------------------------------------------------------------------------------------
# Concept scores, task matching, timelines
# --------------------------------------------------------------------------------------------

def concept_scores(embeddings: np.ndarray, text_embedding: np.ndarray) -> np.ndarray:
    """Cosine similarity of every session embedding with one text embedding.

    Parameters
    ----------
    embeddings : np.ndarray
        (n_sessions, dim).
    text_embedding : np.ndarray
        (dim,) or (1, dim).

    Returns
    -------
    np.ndarray
        float32, (n_sessions,).
    """
    e = np.asarray(embeddings, dtype=np.float32)
    t = np.asarray(text_embedding, dtype=np.float32).reshape(-1)  # (dim,)
    if e.ndim != 2 or e.shape[1] != t.shape[0]:
        raise ValueError(f"embeddings {e.shape} and text embedding {t.shape} differ in dimension. "
                         "Fix: encode the text with the model that made the embeddings.")
    en = np.linalg.norm(e, axis=1)
    tn = float(np.linalg.norm(t)) or 1.0
    return (e @ t / np.where(en > 0, en, 1.0) / tn).astype(np.float32)


def _norm_text(s: str) -> str:
    return " ".join(str(s).lower().replace("_", " ").replace("-", " ").split())


def match_task(query: str, task_info: pd.DataFrame) -> str | None:
    """The task whose name or concept matches a free-text query (case/underscore insensitive).

    Parameters
    ----------
    query : str
        Free text, e.g. ``"benzodiazepine effect"``.
    task_info : pd.DataFrame
        Columns ``task`` and optionally ``concept`` (``Cohort.task_info()``).

    Returns
    -------
    str or None
        The task name, or None when no task matches exactly.
    """
    q = _norm_text(query)
    if not q or task_info is None or len(task_info) == 0:
        return None
    for col in ("task", "concept"):
        if col not in task_info.columns:
            continue
        names = task_info[col].astype("string").fillna("").map(_norm_text)
        hit = task_info.loc[names == q, "task"]
        if len(hit):
            return str(hit.iloc[0])
    return None


def concept_timeline(states, time_idx, mask, text_embedding, time_patch_s: float) -> pd.DataFrame:
    """Per-time-patch similarity of a session's token states with a concept's text embedding.

    Parameters
    ----------
    states : array-like
        (n_tokens, dim) token states of one session in the shared embedding space (see
        :func:`embed_session`), or (n_patches, dim) per-time-patch states (``time_idx=None``,
        e.g. ``EmbeddingStore.states``).
    time_idx : array-like or None
        int, (n_tokens,): each token's time-patch index; None = row i is patch i.
    mask : array-like or None
        bool, (n_tokens,): True for real tokens; None = all real.
    text_embedding : array-like
        (dim,) concept embedding from the text tower.
    time_patch_s : float
        Seconds per time patch.

    Returns
    -------
    pd.DataFrame
        One row per time patch: ``time_patch``, ``start_min``, ``score`` (mean cosine of the
        patch's tokens), ``max_score``, ``n_tokens``.
    """
    s = np.asarray(states, dtype=np.float32)
    t = np.asarray(text_embedding, dtype=np.float32).reshape(-1)
    if s.ndim != 2:
        raise ValueError(f"states must be (n_tokens, dim), got shape {s.shape}. Fix: pass one "
                         "session's states.")
    ti = (np.arange(s.shape[0]) if time_idx is None
          else np.asarray(time_idx).reshape(-1).astype(np.int64))
    m = np.ones(s.shape[0], bool) if mask is None else np.asarray(mask).reshape(-1).astype(bool)
    if s.shape[0] != ti.shape[0] or s.shape[0] != m.shape[0]:
        raise ValueError(f"states {s.shape}, time_idx {ti.shape} and mask {m.shape} disagree. "
                         "Fix: pass one session's (n_tokens, dim) states with its time_idx and "
                         "mask.")
    if s.shape[1] != t.shape[0]:
        raise ValueError(f"token states have dim {s.shape[1]} but the text embedding has "
                         f"{t.shape[0]}. Fix: use states projected into the shared space.")
    cos = concept_scores(s[m], t)  # (n_real,)
    df = pd.DataFrame({"time_patch": ti[m], "score": cos})
    out = df.groupby("time_patch")["score"].agg(["mean", "max", "size"]).reset_index()
    out.columns = ["time_patch", "score", "max_score", "n_tokens"]
    out.insert(1, "start_min", out["time_patch"] * float(time_patch_s) / 60.0)
    return out


def timeline_figure(timeline: pd.DataFrame, concept: str) -> go.Figure:
    """Bar chart of a concept timeline (minutes on x, similarity on y)."""
    fig = go.Figure(go.Bar(x=timeline["start_min"], y=timeline["score"],
                           marker_color=timeline["score"], marker_colorscale="RdBu_r",
                           hovertemplate="minute %{x:.2f}<br>similarity %{y:.3f}<extra></extra>"))
    fig.update_layout(title=f"Which minutes match '{concept}'", xaxis_title="time (min)",
                      yaxis_title="cosine similarity", height=260,
                      margin={"l": 40, "r": 10, "t": 40, "b": 40})
    return fig


# --------------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------------

MONTAGE_LABELS = {"bipolar": "Double banana", "average": "Average reference"}


def montage_window(data: np.ndarray, ch_names: Sequence[str], montage: str, sfreq: float = 200.0
                   ) -> tuple[np.ndarray, list[str]]:
    """Re-reference a block of EEG for display with :func:`clef.io.apply_montage`.

    Parameters
    ----------
    data : np.ndarray
        (channels, samples), the 19 standard channels on any common reference.
    ch_names : sequence of str
    montage : {"bipolar", "average"}
        Longitudinal bipolar (double banana, 18 derivations) or common average reference.
    sfreq : float

    Returns
    -------
    data : np.ndarray
        (derivations, samples).
    names : list of str
    """
    from clef.io import apply_montage

    if montage not in MONTAGE_LABELS:
        raise ValueError(f"montage={montage!r} is not one of {tuple(MONTAGE_LABELS)}. "
                         "Fix: pick one of those.")
    win = Session(np.asarray(data, dtype=np.float32), float(sfreq), list(ch_names))
    out = apply_montage(win, montage)
    return out.data, list(out.ch_names)


def minmax_decimate(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max so spikes survive decimation to ``max_points`` points.

    Parameters
    ----------
    t : np.ndarray
        (samples,) times.
    y : np.ndarray
        (channels, samples).
    max_points : int
        Upper bound on points per channel.

    Returns
    -------
    t, y : np.ndarray
        (points,) times (bucket start and middle, shared by all channels) and (channels, points)
        values (each bucket's extremes in time order).
    """
    n = y.shape[1]
    if n <= max_points:
        return t, y
    n_buckets = max(1, max_points // 2)
    size = int(np.ceil(n / n_buckets))
    n_buckets = int(np.ceil(n / size))
    pad = n_buckets * size - n
    yp = np.pad(y, ((0, 0), (0, pad)), mode="edge")  # (channels, buckets * size)
    yb = yp.reshape(y.shape[0], n_buckets, size)  # (channels, buckets, size)
    i_min, i_max = yb.argmin(axis=2), yb.argmax(axis=2)  # (channels, buckets)
    first, second = np.minimum(i_min, i_max), np.maximum(i_min, i_max)
    base = (np.arange(n_buckets) * size)[None, :]  # (1, buckets)
    idx = np.stack([base + first, base + second], axis=2).reshape(y.shape[0], -1)  # (ch, 2*b)
    vals = np.take_along_axis(yp, idx, axis=1)
    tb = base[0]
    tt = np.stack([t[tb], t[np.minimum(tb + size // 2, n - 1)]], axis=1).reshape(-1)
    return tt, vals


def trace_figure(session: Session, *, montage: str = "bipolar", start_s: float = 0.0,
                 window_s: float = 10.0, gain_uv: float = 100.0, max_points: int = 4000,
                 marks: Sequence[tuple[float, float, str]] | None = None) -> go.Figure:
    """Stacked EEG traces for one time window, like a reading station.

    Parameters
    ----------
    session : Session
        Volts, (channels, samples), the 19 standard channels.
    montage : {"bipolar", "average"}
    start_s, window_s : float
        Window start and length in seconds (clipped to the recording).
    gain_uv : float
        Vertical spacing between channels in microvolts (smaller = larger waves).
    max_points : int
        Per-channel point budget; longer windows are min/max decimated.
    marks : list of (onset_s, duration_s, label), optional
        Annotations: events shorter than the window are shaded spans, longer ones (states)
        are named in the title.

    Returns
    -------
    go.Figure
    """
    if gain_uv <= 0:
        raise ValueError(f"gain_uv={gain_uv} must be > 0. Fix: pass microvolts per channel "
                         "spacing.")
    if window_s <= 0:
        raise ValueError(f"window_s={window_s} must be > 0.")
    sf = float(session.sfreq)
    n = session.n_samples
    start_s = clamp_start(start_s, session.duration_s, window_s)
    i0 = round(start_s * sf)
    i1 = min(n, i0 + max(1, round(window_s * sf)))
    x, names = montage_window(session.data[:, i0:i1], session.ch_names, montage, sf)
    t = np.arange(i0, i1) / sf  # (samples,)
    t, x = minmax_decimate(t, x * 1e6, max_points)  # microvolts, (derivations, points)
    fig = go.Figure()
    n_ch = len(names)
    offsets = (n_ch - 1 - np.arange(n_ch)) * gain_uv  # first derivation on top
    for k, name in enumerate(names):
        fig.add_trace(go.Scattergl(x=t, y=x[k] + offsets[k], mode="lines", name=name,
                                   line={"width": 1, "color": "#1f3b73" if k % 2 else "#3a3a3a"},
                                   hovertemplate=f"{name}<br>%{{x:.2f}} s<extra></extra>",
                                   showlegend=False))
    states = []
    for onset, dur, label in (marks or []):
        if onset + dur < start_s or onset > start_s + window_s:
            continue
        if dur > window_s:  # long states (awake, drowsy, ...) go in the title, not as spans
            states.append(str(label))
            continue
        fig.add_vrect(x0=onset, x1=onset + max(dur, 0.2), fillcolor="orange", opacity=0.2,
                      line_width=0, annotation_text=str(label)[:30],
                      annotation_position="top left")
    fig.update_layout(
        height=max(320, 24 * n_ch + 80), margin={"l": 70, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "time (s)", "range": [start_s, start_s + window_s]},
        yaxis={"tickmode": "array", "tickvals": offsets.tolist(), "ticktext": names,
               "showgrid": False,
               "zeroline": False, "range": [-gain_uv, n_ch * gain_uv]},
        title=f"{MONTAGE_LABELS[montage]} · {gain_uv:g} µV/division · {start_s:.1f} s"
              + (f" · {', '.join(dict.fromkeys(states))}" if states else ""),
        dragmode="pan", showlegend=False,
    )
    return fig


def clamp_start(start_s: float, duration_s: float, window_s: float) -> float:
    """Window start kept inside the recording (0 when the window is longer than it)."""
    return float(np.clip(start_s, 0.0, max(0.0, float(duration_s) - float(window_s))))


def step_state(state, key: str, delta: float, max_value: float) -> None:
    """Add ``delta`` to ``state[key]`` clipped to [0, max_value] (a button callback)."""
    state[key] = float(np.clip(float(state.get(key, 0.0)) + delta, 0.0, max(0.0, max_value)))


# --------------------------------------------------------------------------------------------
# Whole-session spectrogram (click to navigate)
# --------------------------------------------------------------------------------------------

def session_spectrogram(session: Session, tokenizer=None, *, fmax: float = 30.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel-averaged multitaper spectrogram of a whole session, from the model's tokenizer.

    Parameters
    ----------
    session : Session
        At the tokenizer's sampling rate.
    tokenizer : clef.tokenizer.MultitaperTokenizer, optional
        Default: the default tokenizer config at the session's rate.
    fmax : float
        Highest frequency shown (Hz).

    Returns
    -------
    times : np.ndarray
        (windows,) window centres in seconds.
    freqs : np.ndarray
        (freqs,) Hz.
    power_db : np.ndarray
        float32, (freqs, windows), dB re 1 µV²/Hz of the channel-mean power density.
    """
    if tokenizer is None:
        from clef.tokenizer import MultitaperTokenizer, TokenizerConfig

        tokenizer = MultitaperTokenizer(TokenizerConfig(sfreq=float(session.sfreq)))
    power = tokenizer.spectrogram(np.asarray(session.data, dtype=np.float32),
                                  sfreq=float(session.sfreq))  # (channels, windows, freqs)
    freqs = np.asarray(tokenizer.freqs)
    keep = freqs <= fmax
    density = power.mean(axis=0)[:, keep] / float(session.sfreq)  # (windows, freqs) V²/Hz
    db = 10 * np.log10(np.maximum(density, 1e-30) / 1e-12)
    times = np.asarray(tokenizer.times(power.shape[1]))
    return times, freqs[keep], db.T.astype(np.float32)


def spectrogram_figure(times: np.ndarray, freqs: np.ndarray, power_db: np.ndarray, *,
                       cursor_s: float | None = None, title: str = "",
                       height: int = 260) -> go.Figure:
    """Heatmap of a session spectrogram (minutes on x) with a clickable time strip.

    A row of invisible markers (one per window) across the middle of the heatmap makes clicks
    (and box selections) return a time: pass the selection event to :func:`clicked_time`.
    Drag zooms; the cursor is a line trace at ``cursor_s``.
    """
    t_min = np.asarray(times) / 60.0
    lo, hi = np.nanpercentile(power_db, [2, 98]) if np.size(power_db) else (0, 1)
    fig = go.Figure(go.Heatmap(x=t_min, y=freqs, z=power_db, colorscale="Viridis", zmin=lo,
                               zmax=hi, colorbar={"title": "dB", "thickness": 10},
                               hovertemplate="%{x:.2f} min · %{y:.1f} Hz<extra></extra>"))
    mid = float(np.median(freqs)) if len(freqs) else 0.0
    fig.add_trace(go.Scatter(x=t_min, y=np.full(t_min.shape, mid), mode="markers",
                             marker={"size": 14, "opacity": 0.01}, showlegend=False,
                             hovertemplate="go to %{x:.2f} min<extra></extra>", name="time"))
    if cursor_s is not None:
        fig.add_trace(go.Scatter(x=[cursor_s / 60.0] * 2, y=[freqs[0], freqs[-1]], mode="lines",
                                 line={"color": "white", "width": 2}, hoverinfo="skip",
                                 showlegend=False, name="cursor"))
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 30, "b": 40}, title=title,
                      xaxis_title="time (min)", yaxis_title="Hz",
                      dragmode="zoom", uirevision="spectrogram")
    return fig


def clicked_time(selection) -> float | None:
    """Seconds clicked/selected on a :func:`spectrogram_figure` or timeline (minutes on x)."""
    if not selection:
        return None
    pts = selection.get("points") or []
    xs = [p.get("x") for p in pts if p.get("x") is not None]
    if xs:
        return float(min(xs)) * 60.0
    for box in selection.get("box") or []:
        bx = box.get("x") or []
        if bx:
            return float(min(bx)) * 60.0
    return None


# --------------------------------------------------------------------------------------------
# Cohort map
# --------------------------------------------------------------------------------------------

DENSITY_THRESHOLD = 20_000  # points above which the map shows binned density (+ a subsample)
WEBGL_MIN = 2_000  # WebGL (Scattergl) from this many points; SVG below draws faster (measured)
MAX_CATEGORIES = 12  # categorical colours beyond this are lumped into "other"
CATEGORY_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                    "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#e7969c")  # D3 category10 + 2


def hover_text(sessions: pd.DataFrame, max_report: int = 90) -> np.ndarray:
    """One-line HTML hover summary per session (id, age, sex, site, diagnoses, report start)."""
    def col(name, default=""):
        return sessions[name] if name in sessions.columns else pd.Series(default, sessions.index)

    def join(v):
        return ", ".join(map(str, v[:4])) if isinstance(v, (list, tuple, np.ndarray)) else ""

    age = pd.to_numeric(col("age", np.nan), errors="coerce").round(0).astype("Int64").astype(str)
    rep = col("report").fillna("").astype(str).str.slice(0, max_report)
    txt = ("<b>" + col("session_id").astype(str) + "</b> · " + age + " y · "
           + col("sex").fillna("?").astype(str) + " · site " + col("site").fillna("?").astype(str)
           + "<br>dx: " + col("diagnoses").map(join) + "<br>meds: " + col("medications").map(join)
           + "<br><i>" + rep + "</i>")
    return txt.to_numpy()


def _is_continuous(values: pd.Series) -> bool:
    return (pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            and values.nunique(dropna=True) > MAX_CATEGORIES)


def map_figure(coords: pd.DataFrame, *, color: pd.Series | None = None, color_name: str = "",
               hover: np.ndarray | None = None, highlight: np.ndarray | None = None,
               density_threshold: int = DENSITY_THRESHOLD, mode: str = "auto",
               bins: int = 200, sample: int = 5000, seed: int = 0,
               extra_points: pd.DataFrame | None = None,
               highlight_name: str = "highlighted", webgl_min: int = WEBGL_MIN) -> go.Figure:
    """Cohort map: WebGL scatter, or binned density with a selectable subsample for big cohorts.

    Parameters
    ----------
    coords : pd.DataFrame
        Columns ``x``, ``y`` (one row per session, same order as ``color`` / ``hover``).
    color : pd.Series, optional
        Values to colour by; numeric with many levels -> continuous colour scale, else categories.
    hover : np.ndarray of str, optional
        Hover text per point.
    highlight : np.ndarray of bool, optional
        Points drawn on top with a ring (e.g. a search result or selection).
    density_threshold : int
        ``mode="auto"`` switches to density above this many points.
    mode : {"auto", "scatter", "density"}
    bins, sample, seed :
        Density grid size, size of the selectable subsample, its RNG seed.
    extra_points : pd.DataFrame, optional
        Columns ``x``, ``y``, ``label``: points added as stars (e.g. an uploaded recording).
    highlight_name : str
        Legend name of the highlighted points.
    webgl_min : int
        Drawn points from which the scatter uses WebGL (``Scattergl``); SVG below.

    Returns
    -------
    go.Figure
        Every scatter point carries ``customdata`` = its row position in ``coords``; box/lasso
        selections are resolved over all points with :func:`selected_rows`. Rows without
        coordinates (NaN: not on the map) are left out.
    """
    if mode not in ("auto", "scatter", "density"):
        raise ValueError(f"mode={mode!r}: use 'auto', 'scatter' or 'density'.")
    n = len(coords)
    x = coords["x"].to_numpy(np.float32)
    y = coords["y"].to_numpy(np.float32)
    rows = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # sessions placed on the map
    dense = mode == "density" or (mode == "auto" and len(rows) > density_threshold)
    fig = go.Figure()
    if dense and len(rows):
        h, xe, ye = np.histogram2d(x[rows], y[rows], bins=bins)
        z = np.where(h.T > 0, np.log10(h.T + 1), np.nan)  # (bins_y, bins_x)
        fig.add_trace(go.Heatmap(x=(xe[:-1] + xe[1:]) / 2, y=(ye[:-1] + ye[1:]) / 2, z=z,
                                 colorscale="Blues", showscale=False, hoverinfo="skip",
                                 name="density"))
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=min(sample, len(rows)), replace=False))
    marker_size = 6 if n < 2000 else (4 if n < 20000 else 3)
    scatter = go.Scattergl if len(rows) >= webgl_min else go.Scatter
    hv = hover[rows] if hover is not None else None
    tip = "%{text}" if hv is not None else "session %{customdata}"
    if color is None:
        fig.add_trace(scatter(x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
                              hovertemplate=tip + "<extra></extra>", name="sessions",
                              marker={"size": marker_size, "color": "#4062bb", "opacity": 0.7},
                              showlegend=False))
    elif _is_continuous(color):
        cv = pd.to_numeric(color, errors="coerce").to_numpy(float)
        fig.add_trace(scatter(
            x=x[rows], y=y[rows], mode="markers", customdata=rows, text=hv,
            hovertemplate=tip + "<br>" + color_name + ": %{marker.color:.3g}<extra></extra>",
            marker={"size": marker_size, "color": cv[rows], "colorscale": "Viridis",
                    "showscale": True, "opacity": 0.8,
                    "colorbar": {"title": color_name[:20], "thickness": 12}},
            name=color_name, showlegend=False))
    else:
        lab = color.astype("string").fillna("n/a").to_numpy(dtype=object)
        counts = pd.Series(lab).value_counts()
        keep = set(counts.index[:MAX_CATEGORIES])
        lab = np.where(pd.Series(lab).isin(keep).to_numpy(), lab, "other")
        lab_rows = lab[rows]
        order = list(counts.index[:MAX_CATEGORIES]) + (["other"] if len(counts) > MAX_CATEGORIES
                                                       else [])
        for i, level in enumerate(order):
            m = lab_rows == level
            if not m.any():
                continue
            r = rows[m]
            grey = level in ("other", "n/a", "unlabelled")
            colour = "#b0b0b0" if grey else CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]
            fig.add_trace(scatter(
                x=x[r], y=y[r], mode="markers", customdata=r, name=f"{level}",
                text=hv[m] if hv is not None else None,
                hovertemplate=tip + "<extra>" + str(level) + "</extra>",
                marker={"size": marker_size, "opacity": 0.75, "color": colour}))
        fig.update_layout(legend={"title": color_name, "itemsizing": "constant"})
    if highlight is not None and np.any(highlight):
        hr = np.flatnonzero(highlight)
        fig.add_trace(scatter(x=x[hr], y=y[hr], mode="markers", customdata=hr,
                              name=highlight_name, hoverinfo="skip",
                              marker={"size": marker_size + 6, "color": "rgba(0,0,0,0)",
                                      "line": {"width": 2, "color": "crimson"}}))
    if extra_points is not None and len(extra_points):
        fig.add_trace(go.Scatter(x=extra_points["x"], y=extra_points["y"], mode="markers+text",
                                 text=extra_points["label"], textposition="top center",
                                 marker={"symbol": "star", "size": 18, "color": "gold",
                                         "line": {"width": 1, "color": "black"}},
                                 name="upload", hoverinfo="text"))
    fig.update_layout(height=560, margin={"l": 10, "r": 10, "t": 30, "b": 10}, dragmode="lasso",
                      xaxis={"showticklabels": False, "title": "", "zeroline": False},
                      yaxis={"showticklabels": False, "title": "", "zeroline": False},
                      title=f"{n:,} sessions" + (" (density; subsample shown)" if dense else ""),
                      uirevision="map")
    return fig


def _points_in_polygon(x: np.ndarray, y: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Even-odd ray casting, vectorised over points. px/py: polygon vertices."""
    inside = np.zeros(x.shape, dtype=bool)
    j = len(px) - 1
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xint)
        j = i
    return inside


def selected_rows(coords: pd.DataFrame, selection) -> np.ndarray:
    """Row positions in ``coords`` selected on a :func:`map_figure`.

    Box and lasso geometries are applied to every point (so density mode selects all sessions under
    the shape, not only the drawn subsample); plain clicks use the points' ``customdata``.

    Parameters
    ----------
    coords : pd.DataFrame
        Columns ``x``, ``y``.
    selection : dict
        Streamlit's plotly selection state (``points``, ``box``, ``lasso``).

    Returns
    -------
    np.ndarray
        int, sorted unique row positions.
    """
    if not selection:
        return np.zeros(0, dtype=np.int64)
    x = coords["x"].to_numpy(float)
    y = coords["y"].to_numpy(float)
    mask = np.zeros(len(coords), dtype=bool)
    shapes = 0
    for box in selection.get("box") or []:
        bx, by = box.get("x") or [], box.get("y") or []
        if len(bx) >= 2 and len(by) >= 2:
            mask |= ((x >= min(bx)) & (x <= max(bx)) & (y >= min(by)) & (y <= max(by)))
            shapes += 1
    for las in selection.get("lasso") or []:
        lx, ly = np.asarray(las.get("x") or [], float), np.asarray(las.get("y") or [], float)
        if len(lx) >= 3:
            mask |= _points_in_polygon(x, y, lx, ly)
            shapes += 1
    if not shapes:
        for p in selection.get("points") or []:
            cd = p.get("customdata")
            if isinstance(cd, (list, tuple)):
                cd = cd[0] if cd else None
            if cd is not None and 0 <= int(cd) < len(coords):
                mask[int(cd)] = True
    return np.flatnonzero(mask)


def color_options(sessions: pd.DataFrame, labels: pd.DataFrame | None = None) -> dict[str, str]:
    """Colour-by choices: ``{display name: source}`` where source is ``meta:<col>`` or ``task:<t>``.

    Scalar metadata columns first (lists, free text and ids excluded), then task labels.
    """
    skip = {"session_id", "patient_id", "path", "report", "diagnoses", "medications"}
    out: dict[str, str] = {}
    for c in sessions.columns:
        if c in skip:
            continue
        s = sessions[c]
        if s.dtype == object:  # list-valued columns are not colours (first values decide)
            head = s.dropna().head(50)
            if head.map(lambda v: isinstance(v, (list, tuple, np.ndarray, dict))).any():
                continue
        out[c] = f"meta:{c}"
    if labels is not None:
        for t in labels.columns:
            out[f"task: {t}"] = f"task:{t}"
    return out


def color_values(source: str, sessions: pd.DataFrame, labels: pd.DataFrame | None) -> pd.Series:
    """Values for a :func:`color_options` source, aligned with ``sessions`` rows."""
    kind, _, name = source.partition(":")
    if kind == "meta":
        return sessions[name].reset_index(drop=True)
    if kind == "task" and labels is not None:
        v = labels[name].reindex(sessions["session_id"].to_numpy())
        return v.map({1: "positive", 0: "negative"}).astype("string").fillna("unlabelled") \
            .reset_index(drop=True)
    raise ValueError(f"unknown colour source {source!r}. Fix: pick one from color_options().")


def score_histogram(scores: np.ndarray, positives: np.ndarray | None = None,
                    title: str = "", bins: int = 40) -> go.Figure:
    """Histogram of concept scores (binned here: the browser gets ``bins`` bars, not every score),
    split into task positives vs the rest when labels exist."""
    scores = np.asarray(scores, dtype=float)
    edges = np.histogram_bin_edges(scores[np.isfinite(scores)], bins=bins)
    mids, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
    fig = go.Figure()
    groups = ([("all", np.ones(len(scores), bool), "#4062bb")] if positives is None else
              [("positive", np.asarray(positives) == 1, "crimson"),
               ("rest", np.asarray(positives) == 0, "#4062bb")])
    for name, m, colour in groups:
        counts, _ = np.histogram(scores[m], bins=edges)
        fig.add_trace(go.Bar(x=mids, y=counts, width=width, name=name, marker_color=colour,
                             opacity=0.65 if positives is not None else 1.0,
                             hovertemplate="%{x:.3f}: %{y} sessions<extra>" + name + "</extra>"))
    fig.update_layout(barmode="overlay", bargap=0, height=260, title=title,
                      margin={"l": 40, "r": 10, "t": 30, "b": 40},
                      xaxis_title="cosine similarity", yaxis_title="sessions")
    return fig


def two_query_figure(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str,
                     color: pd.Series | None = None, hover: np.ndarray | None = None, *,
                     max_points: int = 5000, seed: int = 0) -> go.Figure:
    """Scatter of two concept scores per session (a random ``max_points`` subsample above that;
    the correlation in the title uses every session)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(a)
    rows = (np.arange(n) if n <= max_points else
            np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False)))
    scatter = go.Scattergl if len(rows) >= WEBGL_MIN else go.Scatter
    codes = None if color is None else pd.factorize(pd.Series(color).astype(str))[0][rows]
    fig = go.Figure(scatter(
        x=a[rows], y=b[rows], mode="markers", customdata=rows,
        text=None if hover is None else np.asarray(hover)[rows],
        hovertemplate=("%{text}<br>" if hover is not None else "") + "x %{x:.3f} · y %{y:.3f}"
        "<extra></extra>",
        marker={"size": 5, "opacity": 0.7, "color": codes, "colorscale": "Turbo"}))
    r = float(np.corrcoef(a, b)[0, 1]) if n > 2 else float("nan")
    shown = f" · {len(rows):,} of {n:,} shown" if len(rows) < n else ""
    fig.update_layout(height=420, margin={"l": 50, "r": 10, "t": 40, "b": 50}, xaxis_title=name_a,
                      yaxis_title=name_b, title=f"Pearson r = {r:.2f}{shown}")
    return fig


# --------------------------------------------------------------------------------------------
# Uploaded recordings
# --------------------------------------------------------------------------------------------

UPLOAD_SUFFIXES = (".edf", ".bdf", ".fif", ".fif.gz", ".zip")  # .zip: BrainVision .vhdr/.vmrk/.eeg
MAX_UPLOAD_MB = 200


def _suffix(name: str) -> str:
    low = name.lower()
    return ".fif.gz" if low.endswith(".fif.gz") else Path(low).suffix


def read_uploaded(data: bytes, filename: str, *, max_mb: float = MAX_UPLOAD_MB,
                  **read_kwargs) -> Session:
    """Read an uploaded recording's bytes via ``clef.io.read_session`` in a temporary folder.

    Parameters
    ----------
    data : bytes
        File contents.
    filename : str
        Original name; its extension picks the reader (EDF/BDF/FIF, or a .zip holding one
        BrainVision set).
    max_mb : float
        Size limit in megabytes.
    **read_kwargs
        Passed to ``clef.io.read_session``.

    Returns
    -------
    Session
        Harmonized session; the temporary folder is removed before returning.

    Raises
    ------
    UnsupportedFormat, InvalidRecording
        For a wrong extension, an oversized file or a zip without exactly one ``.vhdr``.
    """
    from clef.io import read_session

    suffix = _suffix(filename)
    if suffix not in UPLOAD_SUFFIXES:
        raise UnsupportedFormat(filename, f"extension {suffix or '(none)'} is not supported here",
                                "upload an EDF, BDF or FIF file, or a .zip of a BrainVision set "
                                "(.vhdr + .vmrk + .eeg)")
    if len(data) > max_mb * 1e6:
        raise InvalidRecording(filename, f"file is {len(data) / 1e6:.0f} MB, over the "
                               f"{max_mb:g} MB limit", "crop the recording or embed it with "
                               "`clef embed` from the command line")
    with tempfile.TemporaryDirectory(prefix="clef-upload-") as tmp:
        safe = Path(filename).name or f"upload{suffix}"
        if suffix == ".zip":
            try:
                with zipfile.ZipFile(io.BytesIO(data)) as zf:
                    for member in zf.infolist():
                        # no absolute paths / parent traversal out of the temp folder
                        target = (Path(tmp) / member.filename).resolve()
                        if not str(target).startswith(str(Path(tmp).resolve()) + os.sep):
                            raise InvalidRecording(filename, f"zip member {member.filename!r} "
                                                   "points outside the archive", "re-zip the "
                                                   "BrainVision files without absolute paths")
                    zf.extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise InvalidRecording(filename, f"not a readable zip archive ({exc})",
                                       "upload a .zip holding .vhdr, .vmrk and .eeg") from exc
            headers = sorted(Path(tmp).rglob("*.vhdr"))
            if len(headers) != 1:
                raise InvalidRecording(filename, f"zip holds {len(headers)} .vhdr files",
                                       "zip exactly one BrainVision set (.vhdr, .vmrk, .eeg)")
            path = headers[0]
        else:
            path = Path(tmp) / safe
            path.write_bytes(data)
        session = read_session(path, **read_kwargs)
        session.data = np.ascontiguousarray(session.data)  # detach from any memmap in tmp
        session.meta = {**session.meta, "upload_name": filename}
    return session


def embed_session(model, session: Session) -> np.ndarray:
    """(D,) unit embedding of one in-memory session (``clef.embed.embed_sessions``).

    Raises the session's error when it cannot be tokenized or encoded.
    """
    from clef.embed import embed_sessions

    vectors, _, errors = embed_sessions(model, [session], batch_size=1)
    if errors:
        raise errors[0]
    return vectors[0]


def window_states(model, session: Session | None = None, *, store=None,
                  session_id: str | None = None) -> tuple[np.ndarray, float]:
    """Per-time-patch embeddings of a session in the shared space, for concept timelines.

    Taken from the store when it holds them (``clef embed --states``), else computed from the
    session's token states (mean per time patch, projected, normalised: ``clef.embed``).

    Returns
    -------
    states : np.ndarray
        (n_patches, D) float32; row i covers ``[i, i + 1) * time_patch_s`` seconds.
    time_patch_s : float
    """
    patch_s = float(model.tokenizer.time_patch_s)
    if store is not None and session_id is not None:
        st_ = store.states(session_id)
        if st_ is not None and len(st_):
            return np.asarray(st_, dtype=np.float32), patch_s
    if session is None:
        raise ValueError("window_states needs the session when the store holds no states.")
    from clef.embed import embed_sessions

    _, windows, errors = embed_sessions(model, [session], batch_size=1, states=True)
    if errors:
        raise errors[0]
    return np.asarray(windows[0], dtype=np.float32), patch_s


@dataclass
class UploadResult:
    """An uploaded recording, read, embedded and placed on the cohort map.

    Attributes
    ----------
    name : str
    embedding : np.ndarray
        (dim,) unit vector.
    xy : np.ndarray or None
        (2,) map coordinates (``CohortMap.transform``), None without a map.
    spectrogram : tuple
        (times_s, freqs, power_db) as :func:`session_spectrogram`.
    summary : str
        One line: duration, rate, channels, interpolated channels.
    """

    name: str
    embedding: np.ndarray
    xy: np.ndarray | None
    spectrogram: tuple
    summary: str


def embed_upload(data: bytes, filename: str, model, cohort_map=None, *,
                 max_mb: float = MAX_UPLOAD_MB) -> UploadResult:
    """Read an uploaded file (:func:`read_uploaded`), embed it and place it on the map.

    Raises the clef error of :func:`read_uploaded` / ``clef.io.read_session`` for a bad file.
    """
    sfreq = float(model.tokenizer.config.sfreq)
    sess = read_uploaded(data, filename, max_mb=max_mb, sfreq=sfreq)
    emb = embed_session(model, sess)
    xy = None
    if cohort_map is not None:
        xy = np.asarray(cohort_map.transform(emb[None, :]), dtype=np.float32).reshape(-1)[:2]
    interp = sess.meta.get("interpolated") or []
    summary = (f"{sess.duration_s / 60:.1f} min, {len(sess.ch_names)} channels at "
               f"{sess.sfreq:g} Hz" + (f", interpolated {', '.join(map(str, interp))}"
                                      if interp else ""))
    return UploadResult(filename, emb, xy, session_spectrogram(sess, model.tokenizer), summary)


def upload_points(upload: UploadResult) -> pd.DataFrame:
    """The upload as an ``extra_points`` frame for :func:`map_figure`."""
    if upload.xy is None:
        return pd.DataFrame(columns=["x", "y", "label"])
    return pd.DataFrame({"x": [float(upload.xy[0])], "y": [float(upload.xy[1])],
                         "label": [upload.name]})


def error_message(exc: BaseException) -> str:
    """A user-facing message for an exception: clef errors verbatim, others with their type."""
    if isinstance(exc, ClefError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def check_query(text: str) -> str:
    """Strip a free-text query; raise ``InvalidQuery`` when empty."""
    q = (text or "").strip()
    if not q:
        raise InvalidQuery("empty concept query. Fix: type a phrase such as "
                           "'left temporal sharp waves'.")
    return q


# --------------------------------------------------------------------------------------------
# Tables for display and export
# --------------------------------------------------------------------------------------------

class SignalsUnavailable(ClefError):
    """A session's signals cannot be shown (the bundle has no cohort folder to read them from)."""

    def __init__(self, session_id: str):
        super().__init__(f"no signals for session {session_id!r}: this bundle has no cohort "
                         "folder. Fix: pass --cohort COHORT (or keep cohort/ next to the store).")


def session_table(sessions: pd.DataFrame, coords: pd.DataFrame | None = None) -> pd.DataFrame:
    """Session metadata (row order kept) joined with map coordinates ``x``, ``y`` by session_id.

    Sessions missing from the map get NaN coordinates.
    """
    out = sessions.reset_index(drop=True).copy()
    out["session_id"] = out["session_id"].astype(str)
    if coords is not None:
        c = coords[["session_id", "x", "y"]].copy()
        c["session_id"] = c["session_id"].astype(str)
        c = c.drop_duplicates("session_id").set_index("session_id")
        xy = c.reindex(out["session_id"])
        out["x"] = xy["x"].to_numpy(np.float32)
        out["y"] = xy["y"].to_numpy(np.float32)
    return out


def as_series(values, name: str = "score") -> pd.Series:
    """A 1-D array as a Series (for :func:`map_figure` colours)."""
    return pd.Series(np.asarray(values), name=name)


def rows_to_mask(rows, n: int) -> np.ndarray:
    """Boolean (n,) mask with ``rows`` set."""
    m = np.zeros(int(n), dtype=bool)
    m[np.asarray(rows, dtype=np.int64)] = True
    return m


def _join(v, limit: int | None = None) -> str:
    if isinstance(v, (list, tuple, np.ndarray)):
        items = [str(x) for x in v]
        return "; ".join(items[:limit] + (["…"] if limit and len(items) > limit else []))
    return "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)


DISPLAY_COLUMNS = ("rank", "session_id", "score", "age", "sex", "site", "setting", "diagnoses",
                   "medications", "report")


def display_table(df: pd.DataFrame, *, compact: bool = False, report_chars: int = 160
                  ) -> pd.DataFrame:
    """Rows ready for ``st.dataframe``: key columns, lists joined, reports shortened."""
    cols = [c for c in DISPLAY_COLUMNS if c in df.columns]
    if compact:
        cols = [c for c in cols if c not in ("setting", "medications")]
    out = df[cols].copy()
    for c in ("diagnoses", "medications"):
        if c in out.columns:
            out[c] = out[c].map(lambda v: _join(v, 4))
    if "report" in out.columns:
        out["report"] = out["report"].fillna("").astype(str).str.replace(r"\s+", " ", regex=True) \
            .str.slice(0, report_chars)
    if "score" in out.columns:
        out["score"] = out["score"].astype(float).round(4)
    if "age" in out.columns:
        out["age"] = pd.to_numeric(out["age"], errors="coerce").round(1)
    return out.reset_index(drop=True)


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """CSV (UTF-8) of a session table; list columns joined with ';', coordinates kept."""
    out = df.copy()
    for c in out.columns:
        if out[c].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).any():
            out[c] = out[c].map(_join)
    return out.to_csv(index=False).encode("utf-8")


def profile_table(profile: CohortProfile, n: int = 40) -> pd.DataFrame:
    """The profile's categorical rows, rounded, top ``n`` by |effect|."""
    t = profile.top(n).copy()
    for c in ("rate_sel", "rate_rest", "rate_diff", "effect"):
        t[c] = t[c].astype(float).round(3)
    t["odds_ratio"] = t["odds_ratio"].astype(float).round(2)
    for c in ("p_value", "q_value"):
        t[c] = t[c].astype(float).map(lambda v: f"{v:.2g}")
    return t.rename(columns={"effect": "cohen_h"})


def profile_figure(profile: CohortProfile, n: int = 15) -> go.Figure:
    """Bars of the rate difference (selection - rest) of the most enriched/depleted items."""
    t = profile.top(n).iloc[::-1]
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


def ehr_table(row: pd.Series) -> pd.DataFrame:
    """Field/value rows of one session's demographics and EHR (lists joined)."""
    fields = ("session_id", "patient_id", "site", "age", "sex", "setting", "duration_s",
              "diagnoses", "medications", "split")
    rows = [(f, _join(row[f])) for f in fields if f in row.index]
    return pd.DataFrame(rows, columns=["field", "value"])


def embeddings_in_order(store, session_ids) -> np.ndarray:
    """Store embeddings (N, D) in the order of ``session_ids`` (no copy when already aligned)."""
    ids = np.asarray(session_ids).astype(str)
    sids = np.asarray(store.session_ids).astype(str)
    if len(ids) == len(sids) and np.array_equal(ids, sids):
        return store.embeddings
    rows = np.array([store.row_of(s) for s in ids], dtype=np.int64)
    return np.asarray(store.embeddings)[rows]


# --------------------------------------------------------------------------------------------
# Concept search: examples, filters, evaluation against task labels, neighbours
# --------------------------------------------------------------------------------------------

WORKSHOP_QUERIES = (
    "left temporal sharp waves", "benzodiazepine effect", "generalized slowing",
    "burst suppression", "3 Hz spike-and-wave", "triphasic waves", "sleep spindles",
    "excess beta activity", "normal EEG",
)


def example_queries() -> list[str]:
    """Workshop example queries."""
    return list(WORKSHOP_QUERIES)


def filter_choices(sessions: pd.DataFrame) -> dict:
    """Values offered by the metadata filters: site/sex/setting levels, age range, medications."""
    def levels(col):
        return sorted(sessions[col].dropna().astype(str).unique()) if col in sessions else []

    ages = pd.to_numeric(sessions.get("age", pd.Series(dtype=float)), errors="coerce").dropna()
    lo, hi = (int(np.floor(ages.min())), int(np.ceil(ages.max()))) if len(ages) else (0, 100)
    meds: list[str] = []
    if "medications" in sessions:
        _, items = _explode_lists(sessions["medications"])
        meds = sorted(set(items.tolist()))
    return {"site": levels("site"), "sex": levels("sex"), "setting": levels("setting"),
            "age": (lo, max(hi, lo + 1)), "medications": meds}


def build_filters(*, site=(), sex=(), setting=(), age=None, full_age=None, diagnosis="",
                  medication=()) -> dict:
    """Keyword filters for ``SessionIndex`` searches, leaving out the ones not in use."""
    f: dict = {}
    for name, value in (("site", site), ("sex", sex), ("setting", setting),
                        ("medication", medication)):
        if value:
            f[name] = list(value)
    if age is not None and full_age is not None and tuple(age) != tuple(full_age):
        f["age"] = (float(age[0]), float(age[1]))
    if diagnosis and diagnosis.strip():
        f["diagnosis"] = [d.strip() for d in diagnosis.split(",") if d.strip()]
    return f


@functools.lru_cache(maxsize=1)
def _concept_phrases() -> dict[str, str]:
    """{phrase: concept name} from the synthetic ontology (labels and synonyms)."""
    try:
        from clef.synth import concepts
    except ImportError:  # pragma: no cover - the generator is part of clef
        return {}
    out = {}
    for c in concepts():
        out[_norm_text(c.name)] = c.name
        for p in c.phrases:
            out.setdefault(_norm_text(p), c.name)
    return out


_EFFECT_WORDS = ("effect", "effects", "use", "exposure", "medication", "medications")


def _query_variants(query: str) -> list[str]:
    """The query, then drug-class readings: "benzodiazepine effect" -> "benzodiazepine
    medication" / "benzodiazepine class" (the medication-class tasks' concept and name)."""
    q = _norm_text(query)
    words = q.split()
    base = " ".join(words[:-1]) if len(words) > 1 and words[-1] in _EFFECT_WORDS else q
    return list(dict.fromkeys([q, base, f"{base} medication", f"{base} class"]))


@dataclass
class QueryEvaluation:
    """A concept query checked against the task whose name/concept it matches.

    ``positives`` is aligned with the session table: 1, 0, or -1 for unlabelled (None without a
    task).
    """

    task: str | None = None
    positives: np.ndarray | None = None
    auroc: float = float("nan")
    n_pos: int = 0
    n_neg: int = 0


def query_evaluation(query: str, scores: np.ndarray, sessions: pd.DataFrame,
                     labels: pd.DataFrame | None, task_info: pd.DataFrame | None
                     ) -> QueryEvaluation:
    """AUROC of concept scores against the labels of the task the query names, if any.

    The query matches a task by its name or concept (case/underscore-insensitive), through a
    label/synonym of the synthetic ontology that maps to a task's concept, or as a drug class
    ("benzodiazepine effect" -> the benzodiazepine medication-class task).
    """
    if labels is None or task_info is None or len(task_info) == 0:
        return QueryEvaluation()
    task = None
    for cand in _query_variants(query):
        task = match_task(cand, task_info)
        if task is None:
            concept = _concept_phrases().get(_norm_text(cand))
            task = match_task(concept, task_info) if concept is not None else None
        if task is not None:
            break
    if task is None or task not in labels.columns:
        return QueryEvaluation()
    y = labels[task].reindex(sessions["session_id"].astype(str).to_numpy())
    pos = y.astype("Float64").fillna(-1).to_numpy(dtype=float).astype(np.int8)
    ok = pos >= 0
    from clef.probe import auroc

    a = float(auroc(pos[ok], np.asarray(scores)[ok])) if ok.any() else float("nan")
    return QueryEvaluation(task, pos, a, int((pos == 1).sum()), int((pos == 0).sum()))


def neighbours(index, model, *, k: int = 10, session_id: str | None = None, vector=None,
               steer_text: str = "", steer_weight: float = 0.5
               ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Nearest sessions of a stored session or a vector, plain and (optionally) steered.

    Parameters
    ----------
    index : clef.index.SessionIndex
    model : clef.model.CLEFModel
        For the steering concept's text embedding.
    k : int
    session_id : str, optional
        A stored session (excluded from its own results).
    vector : array (D,), optional
        Used when ``session_id`` is None (e.g. an upload).
    steer_text : str
        "like this one, but with (weight > 0) / without (weight < 0) <concept>"; empty: none.
    steer_weight : float

    Returns
    -------
    plain, steered : pd.DataFrame, pd.DataFrame or None
    """
    from clef.index import steer

    if session_id is not None:
        plain = index.by_session(session_id, k)
        base, exclude = index.vector(session_id), (session_id,)
    elif vector is not None:
        base, exclude = np.asarray(vector, dtype=np.float32), ()
        plain = index.by_vector(base, k)
    else:
        raise InvalidQuery("no session chosen. Fix: pick a session id or upload a recording.")
    if not steer_text or not steer_text.strip():
        return plain, None
    v = steer(base, steer_text.strip(), steer_weight, model)
    return plain, index.by_vector(v, k, exclude=exclude)


# --------------------------------------------------------------------------------------------
# Model card and probe results
# --------------------------------------------------------------------------------------------

@dataclass
class ModelCard:
    """What the model page shows: card markdown, key facts and the full config."""

    markdown: str
    facts: pd.DataFrame
    config: dict


def model_card(checkpoint, manifest: dict | None = None) -> ModelCard:
    """Read a checkpoint folder's ``MODEL_CARD.md`` and ``config.json`` (no weights loaded).

    Parameters
    ----------
    checkpoint : path
    manifest : dict, optional
        The index (or store) manifest, for provenance facts.
    """
    import json

    folder = Path(checkpoint) if checkpoint is not None else None
    card_path = folder / "MODEL_CARD.md" if folder else None
    md = (card_path.read_text(encoding="utf-8") if card_path is not None and card_path.is_file()
          else "_This checkpoint has no model card (MODEL_CARD.md)._")
    cfg_path = folder / "config.json" if folder else None
    cfg = json.loads(cfg_path.read_text()) if cfg_path is not None and cfg_path.is_file() else {}
    enc = cfg.get("encoder", {})
    facts = [("checkpoint", str(folder)), ("name", cfg.get("name")), ("arch", cfg.get("arch")),
             ("embedding dim", cfg.get("embed_dim")),
             ("encoder", f"d_model={enc.get('d_model')}, layers={enc.get('n_layers')}, "
                         f"heads={enc.get('n_heads')}" if enc else None),
             ("text backbone", cfg.get("text", {}).get("backbone")),
             ("weights sha256", str(cfg.get("weights_sha256") or "")[:16])]
    m = manifest or {}
    facts += [("index sessions", m.get("count")), ("index kind", m.get("index", {}).get("kind")),
              ("index built by", m.get("created_by"))]
    df = pd.DataFrame([(k, "" if v is None else str(v)) for k, v in facts],
                      columns=["field", "value"])
    return ModelCard(md, df, cfg)


@dataclass
class ProbeTable:
    name: str
    frame: pd.DataFrame


@dataclass
class ProbeResults:
    """Files of a ``probe/`` folder: CSV tables, markdown reports and PNG plots."""

    tables: list[ProbeTable] = field(default_factory=list)
    markdown: list = field(default_factory=list)
    images: list[Path] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.tables or self.markdown or self.images)


@dataclass
class _Markdown:
    name: str
    text: str


# `clef probe` tables in reading order (the per-category summary first); others follow by name
PROBE_TABLE_ORDER = ("summary_table.csv", "targets.csv", "results.csv", "zeroshot.csv", "beats.csv")


def _probe_table_order(path: Path) -> tuple:
    rank = PROBE_TABLE_ORDER.index(path.name) if path.name in PROBE_TABLE_ORDER else len(
        PROBE_TABLE_ORDER)
    return rank, str(path)


def probe_results(folder) -> ProbeResults:
    """Load the probe results of a bundle (``*.csv``, ``*.md``, ``*.png``; empty when absent)."""
    res = ProbeResults()
    if folder is None or not Path(folder).is_dir():
        return res
    folder = Path(folder)
    for p in sorted(folder.rglob("*.csv"), key=_probe_table_order):
        try:
            res.tables.append(ProbeTable(str(p.relative_to(folder)), pd.read_csv(p)))
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            res.markdown.append(_Markdown(p.name, f"Could not read `{p}`: {exc}"))
    res.markdown += [_Markdown(str(p.relative_to(folder)), p.read_text(encoding="utf-8"))
                     for p in sorted(folder.rglob("*.md"))]
    res.images = sorted(folder.rglob("*.png"))
    return res


def probe_figure(frame: pd.DataFrame) -> go.Figure | None:
    """Bars of mean AUROC per category and representation when the table has those columns."""
    cols = {c.lower(): c for c in frame.columns}
    auc = cols.get("auroc") or cols.get("mean_auroc") or cols.get("auc")
    cat = cols.get("category")
    if auc is None or cat is None:
        return None
    rep = cols.get("model") or cols.get("representation") or cols.get("baseline")
    g = frame.groupby([cat] + ([rep] if rep else []))[auc].mean().reset_index()
    fig = go.Figure()
    for name, part in (g.groupby(rep) if rep else [("AUROC", g)]):
        fig.add_trace(go.Bar(x=part[cat], y=part[auc], name=str(name)))
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    fig.update_layout(barmode="group", height=320, yaxis_title="mean AUROC",
                      yaxis_range=[0.4, 1.0], margin={"l": 40, "r": 10, "t": 30, "b": 40})
    return fig
