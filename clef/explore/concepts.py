"""Concept scores, task matching and concept timelines (which minutes match a concept)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.session import Session


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
    en = np.sqrt(np.einsum("ij,ij->i", e, e))  # (n_sessions,): 5x quicker than linalg.norm
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


def embeddings_in_order(store, session_ids) -> np.ndarray:
    """Store embeddings (N, D) in the order of ``session_ids`` (no copy when already aligned)."""
    ids = np.asarray(session_ids).astype(str)
    sids = np.asarray(store.session_ids).astype(str)
    if len(ids) == len(sids) and np.array_equal(ids, sids):
        return store.embeddings
    rows = np.array([store.row_of(s) for s in ids], dtype=np.int64)
    return np.asarray(store.embeddings)[rows]


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


def finding_choices(task_info: pd.DataFrame, readable) -> dict[str, str]:
    """Finding tasks a discordance review can use: {task: concept label}, for findings the report
    extractor reads (``readable``: its concept names)."""
    if task_info is None or len(task_info) == 0:
        return {}
    ok = set(readable)
    rows = task_info[(task_info.get("category") == "finding") & task_info["task"].isin(ok)]
    return {str(t): str(c or t) for t, c in zip(rows["task"], rows.get("concept", rows["task"]))}


def discordance_table(eeg_scores: np.ndarray, mentioned: np.ndarray, sessions: pd.DataFrame, *,
                      direction: str = "eeg_only", top_percent: float = 10.0,
                      truth: np.ndarray | None = None, k: int = 50):
    """Sessions whose report and EEG disagree on a finding, with precision against the truth.

    Parameters
    ----------
    eeg_scores : np.ndarray
        (n,) EEG score of every session for the finding (session-table order).
    mentioned : np.ndarray
        (n,) 1 where the report affirms the finding.
    sessions : pd.DataFrame
    direction : {"eeg_only", "report_only"}
    top_percent : float
    truth : np.ndarray, optional
        (n,) true labels (1/0/-1), e.g. a synthetic cohort's finding task.
    k : int
        Rows shown.

    Returns
    -------
    table : pd.DataFrame
        ``session_id``, ``EEG percentile``, ``report mentions``, ``truth`` (when given),
        ``site``, ``report`` (full).
    precision : clef.search.DiscordancePrecision or None
        Over the whole list (not only the rows shown); None without ``truth``.
    n_listed : int
    """
    from clef.search import discordance_precision, discordant, percentile

    has_report = sessions["report"].fillna("").astype(str).str.strip().ne("").to_numpy() \
        if "report" in sessions else None
    rows = discordant(eeg_scores, mentioned, direction, top_percent=top_percent,
                      has_report=has_report)
    prec = (discordance_precision(rows, mentioned, truth, direction, has_report)
            if truth is not None else None)
    shown = rows[: int(k)]
    table = pd.DataFrame({
        "session_id": sessions["session_id"].to_numpy()[shown],
        "EEG percentile": percentile(eeg_scores)[shown].round(1),
        "report mentions": np.asarray(mentioned)[shown].astype(bool)})
    if truth is not None:
        table["truth"] = np.asarray(truth)[shown]
    for c in ("site", "report"):
        if c in sessions:
            table[c] = sessions[c].to_numpy()[shown]
    return table, prec, len(rows)


def fewshot_table(scores: np.ndarray, sessions: pd.DataFrame, marked=(), k: int = 20
                  ) -> pd.DataFrame:
    """The cohort ranked by a few-shot concept: ``rank``, ``session_id``, ``percentile``,
    ``example`` (True for the marked sessions), ``split``, ``site``."""
    from clef.search import percentile

    s = np.asarray(scores, dtype=np.float64)
    top = np.argsort(-s, kind="stable")[: int(k)]
    ids = sessions["session_id"].astype(str).to_numpy()
    out = pd.DataFrame({"rank": np.arange(1, len(top) + 1), "session_id": ids[top],
                        "percentile": percentile(s)[top].round(1),
                        "example": np.isin(ids[top], [str(m) for m in marked])})
    for c in ("split", "site"):
        if c in sessions:
            out[c] = sessions[c].to_numpy()[top]
    return out
