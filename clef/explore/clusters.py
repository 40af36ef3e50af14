"""Named clusters on the cohort map: k-means on the map coordinates, each cluster named by the
diagnoses and medications most enriched in it against the rest (:func:`cohort_profile`), and
ICD-10 codes shown with their names (:mod:`clef.vocabulary`)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.explore.profile import cohort_profile

N_CLUSTERS = 8


def diagnosis_names(sessions: pd.DataFrame | None = None) -> dict[str, str]:
    """``{ICD-10 code: name}`` from :mod:`clef.vocabulary`, completed by the session table's
    ``diagnoses``/``diagnosis_names`` pairs (a real cohort's own codes)."""
    from clef.vocabulary import concepts

    out = {code: c.label for c in concepts("phenotype") for code in c.icd10}
    if sessions is not None and {"diagnoses", "diagnosis_names"} <= set(sessions.columns):
        pairs = sessions[["diagnoses", "diagnosis_names"]].dropna().head(20_000)
        for codes, names in zip(pairs["diagnoses"], pairs["diagnosis_names"]):
            if codes is not None and names is not None and len(codes) == len(names):
                for code, name in zip(codes, names):
                    out.setdefault(str(code), str(name))
    return out


def with_name(code: str, names: dict[str, str]) -> str:
    """``"G40.109 focal epilepsy"`` (the code alone when it has no name)."""
    name = names.get(str(code))
    return f"{code} {name}" if name else str(code)


def map_clusters(sessions: pd.DataFrame, *, n_clusters: int = N_CLUSTERS, prepared=None,
                 names: dict[str, str] | None = None, seed: int = 0,
                 n_terms: int = 2) -> pd.DataFrame:
    """Clusters of the map (k-means on ``x``, ``y``) with names from their enriched items.

    Parameters
    ----------
    sessions : pd.DataFrame
        Session table with ``x``, ``y`` (NaN: not on the map), ``session_id``, and list columns
        ``diagnoses`` / ``medications``.
    n_clusters : int
    prepared : ProfilePrep, optional
        :func:`clef.explore.prepare_profile` of the table (reused).
    names : dict, optional
        Code -> diagnosis name (:func:`diagnosis_names`).
    seed : int
    n_terms : int
        Items named per cluster.

    Returns
    -------
    pd.DataFrame
        One row per cluster: ``cluster``, ``x``, ``y`` (centre), ``n``, ``label`` (e.g.
        ``"focal epilepsy · levetiracetam"``; ``"mixed"`` when nothing is enriched at q < 0.05).
        Empty when fewer than ``2 * n_clusters`` sessions are on the map.
    """
    from sklearn.cluster import MiniBatchKMeans

    cols = ["cluster", "x", "y", "n", "label"]
    xy = sessions[["x", "y"]].to_numpy(float) if "x" in sessions.columns else np.empty((0, 2))
    on = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if len(on) < 2 * n_clusters:
        return pd.DataFrame(columns=cols)
    km = MiniBatchKMeans(n_clusters=n_clusters, random_state=seed, n_init=3,
                         batch_size=4096).fit(xy[on])
    names = names or {}
    rows = []
    for k in range(n_clusters):
        members = on[km.labels_ == k]
        mask = np.zeros(len(sessions), dtype=bool)
        mask[members] = True
        prof = cohort_profile(sessions, mask, numeric=(), categorical=(), prepared=prepared)
        top = prof.categorical
        top = top[(top["effect"] > 0) & (top["q_value"] < 0.05)].head(n_terms)
        terms = [names.get(str(r.level), str(r.level)) if r.variable == "diagnoses"
                 else str(r.level) for r in top.itertuples()]
        centre = np.median(xy[members], axis=0)
        rows.append((k, float(centre[0]), float(centre[1]), len(members),
                     " · ".join(terms) or "mixed"))
    return pd.DataFrame(rows, columns=cols)


def add_cluster_labels(fig: go.Figure, clusters: pd.DataFrame) -> go.Figure:
    """Cluster names as text annotations at their centres (in place; returns ``fig``)."""
    fig.update_layout(annotations=[  # one update: add_annotation per label took 3x as long
        *fig.layout.annotations,
        *({"x": float(r.x), "y": float(r.y), "text": f"<b>{r.label}</b> ({r.n:,})",
           "showarrow": False, "font": {"size": 11, "color": "#222"},
           "bgcolor": "rgba(255,255,255,0.7)", "bordercolor": "#888", "borderwidth": 1,
           "borderpad": 2} for r in clusters.itertuples())])
    return fig
