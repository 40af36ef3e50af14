"""Two sessions side by side, and what the neighbour lists hide: where two sessions agree (model
states over time, spectra per region), neighbours without the same patient, and what steering
changed (the columns it is meant to move, before and after)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.explore.qeeg import Spectra, to_db

#: Scalp regions for the per-region comparison (10-20 names as clef harmonizes them).
REGIONS = {"left frontal": ("Fp1", "F7", "F3"), "right frontal": ("Fp2", "F8", "F4"),
           "left temporal": ("T7", "P7"), "right temporal": ("T8", "P8"),
           "central": ("C3", "Cz", "C4", "Fz", "Pz"), "left parieto-occipital": ("P3", "O1"),
           "right parieto-occipital": ("P4", "O2")}


def drop_same_patient(results: pd.DataFrame, patient_id: str | None, k: int) -> pd.DataFrame:
    """Neighbours without the query patient's other sessions, re-ranked, at most ``k``.

    Parameters
    ----------
    results : pd.DataFrame
        Ranked neighbours with ``patient_id`` (fetch ``k`` + that patient's session count).
    patient_id : str or None
        None (an upload) keeps every row.
    k : int
    """
    out = results
    if patient_id is not None and "patient_id" in results.columns:
        out = results[results["patient_id"].astype(str) != str(patient_id)]
    out = out.head(k).reset_index(drop=True)
    if "rank" in out.columns:
        out["rank"] = np.arange(1, len(out) + 1)
    return out


def _classes_in(text: str) -> list[str]:
    from clef.vocabulary.drugs import DRUG_CLASSES

    low = text.lower()
    return [c for c in DRUG_CLASSES if str(c).lower().rstrip("s") in low]


def _has_class(meds, drug_class: str) -> bool:
    from clef.vocabulary.drugs import drug_classes_of

    if meds is None or isinstance(meds, float):
        return False
    return any(drug_class in drug_classes_of(str(m)) for m in meds)


def steering_effect(plain: pd.DataFrame, steered: pd.DataFrame, steer_text: str, *,
                    task: str | None = None, labels: pd.DataFrame | None = None
                    ) -> pd.DataFrame:
    """What steering changed in the columns it is meant to move, as before/after counts.

    Parameters
    ----------
    plain, steered : pd.DataFrame
        Neighbours without and with steering (``session_id``, ``medications``).
    steer_text : str
        The steering concept; drug classes it names (``"benzodiazepine effect"`` ->
        benzodiazepine) are counted in ``medications``.
    task : str, optional
        The task matching the concept (:func:`clef.explore.match_task`): its positives are
        counted from ``labels``.
    labels : pd.DataFrame, optional
        Task labels indexed by ``session_id``.

    Returns
    -------
    pd.DataFrame
        Columns ``measure``, ``before``, ``after``, ``change``; one row per measure, plus the
        number of sessions that differ between the lists.
    """
    rows = []
    for cls in _classes_in(steer_text):
        if "medications" in plain.columns:
            b = int(sum(_has_class(m, cls) for m in plain["medications"]))
            a = int(sum(_has_class(m, cls) for m in steered["medications"]))
            rows.append((f"on a {cls} (EHR medications)", b, a))
    if task is not None and labels is not None and task in labels.columns:
        col = labels[task]
        b = int((col.reindex(plain["session_id"]) == 1).sum())
        a = int((col.reindex(steered["session_id"]) == 1).sum())
        rows.append((f"task {task}: positives", b, a))
    changed = len(set(steered["session_id"]) - set(plain["session_id"]))
    rows.append(("sessions not in the plain list", 0, changed))
    out = pd.DataFrame(rows, columns=["measure", "before", "after"])
    out["change"] = out["after"] - out["before"]
    return out


def state_similarity(states_a: np.ndarray, states_b: np.ndarray) -> np.ndarray:
    """(patches_a, patches_b) cosine similarity of two sessions' per-time model states."""
    a = np.asarray(states_a, dtype=np.float32)
    b = np.asarray(states_b, dtype=np.float32)
    a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def similarity_figure(sim: np.ndarray, patch_s: float, name_a: str, name_b: str, *,
                      height: int = 360) -> go.Figure:
    """Heatmap of :func:`state_similarity` (minutes on both axes) with its diagonal trend."""
    ta = np.arange(sim.shape[0]) * patch_s / 60.0
    tb = np.arange(sim.shape[1]) * patch_s / 60.0
    fig = go.Figure(go.Heatmap(x=tb, y=ta, z=sim, colorscale="RdBu_r", zmid=0,
                               colorbar={"title": "cosine", "thickness": 10},
                               hovertemplate=f"{name_a} %{{y:.1f}} min · {name_b} %{{x:.1f}} min"
                                             "<br>cosine %{z:.2f}<extra></extra>"))
    fig.update_layout(height=height, margin={"l": 60, "r": 10, "t": 40, "b": 40},
                      title="Where they agree: model states, minute by minute",
                      xaxis_title=f"{name_b} (min)", yaxis_title=f"{name_a} (min)")
    return fig


def region_similarity(a: Spectra, b: Spectra) -> pd.DataFrame:
    """Per scalp region: correlation of the two sessions' mean log spectra, and their band
    power difference (dB), so a one-sided difference shows.

    Returns
    -------
    pd.DataFrame
        Columns ``region``, ``spectral_correlation``, ``delta_db``, ``theta_db``,
        ``alpha_db``, ``beta_db`` (b - a).
    """
    from clef.explore.qeeg import BANDS

    n_f = min(len(a.freqs), len(b.freqs))
    freqs = a.freqs[:n_f]
    rows = []
    for region, chans in REGIONS.items():
        ra, rb = a.rows(chans), b.rows(chans)
        if not ra or not rb:
            continue
        sa = to_db(a.density[ra][:, :, :n_f].mean(axis=(0, 1)))
        sb = to_db(b.density[rb][:, :, :n_f].mean(axis=(0, 1)))
        row = {"region": region, "spectral_correlation": float(np.corrcoef(sa, sb)[0, 1])}
        for band, (lo, hi) in BANDS.items():
            keep = (freqs >= lo) & (freqs < hi)
            row[f"{band}_db"] = float(sb[keep].mean() - sa[keep].mean())
        rows.append(row)
    return pd.DataFrame(rows).round(2)
