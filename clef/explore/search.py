"""Concept search: example queries, filters, AUROC against task labels, neighbours, figures."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.errors import InvalidQuery
from clef.explore.cohort_map import WEBGL_MIN
from clef.explore.concepts import _norm_text, match_task
from clef.explore.profile import explode_lists

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
        _, items = explode_lists(sessions, ["medications"])["medications"]
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


def check_query(text: str) -> str:
    """Strip a free-text query; raise ``InvalidQuery`` when empty."""
    q = (text or "").strip()
    if not q:
        raise InvalidQuery("empty concept query. Fix: type a phrase such as "
                           "'left temporal sharp waves'.")
    return q
