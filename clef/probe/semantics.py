"""Clinical-semantics benchmarks: free-text query sets and the text-side diagnostic.

- :func:`query_set_eval`: zero-shot AUROC of queries written the way clinicians type them
  (``benchmarks/queries/unseen_phrasings.yaml``), through the same query path as the dashboard
  (:func:`clef.text.queries.parse_query`, abbreviations expanded, neutral templates).
- :func:`text_side_eval`: rank sessions by their *own report text* against each concept, through
  the trained text tower and through the raw frozen backbone. No EEG: this is the ceiling the EEG
  zero-shot is aligned towards, and the tower must not lose to the backbone it was built on.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from clef.errors import InvalidQuery
from clef.metrics import auroc
from clef.text.linking import ConceptLinker
from clef.text.queries import parse_query, query_vector

TextEncoder = Callable[[list[str]], np.ndarray]  # n texts -> (n, d)
DEFAULT_QUERY_SET = Path(__file__).resolve().parents[2] / "benchmarks" / "queries" / \
    "unseen_phrasings.yaml"


def _unit(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def load_query_set(path: str | Path = DEFAULT_QUERY_SET) -> dict[str, list[str]]:
    """Read a query set: YAML mapping task name -> list of query strings.

    Raises
    ------
    InvalidQuery
        When the file is not such a mapping.
    """
    import yaml

    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise InvalidQuery(f"{path}: a query set maps task names to lists of queries. Fix: see "
                           "benchmarks/queries/unseen_phrasings.yaml.")
    return {str(k): [str(q) for q in v] for k, v in data.items()}


def score_query(session_emb, query: str, encode_text: TextEncoder,
                reference: str | None = None, linker=None) -> np.ndarray:
    """Score every session for a free-text query, as the dashboard does
    (:func:`clef.text.queries.query_vector`; negated queries score ``-cosine``).

    Parameters
    ----------
    session_emb : array (n, d)
        Unit-norm session embeddings.
    query : str
    encode_text : callable

    Returns
    -------
    np.ndarray (n,)
    """
    v = query_vector(query, encode_text, reference, linker)
    return np.asarray(session_emb, dtype=np.float64) @ v


def query_set_eval(session_emb, labels: pd.DataFrame, query_set: dict[str, list[str]],
                   encode_text: TextEncoder, min_pos: int = 5,
                   reference: str | None = None,
                   link: bool | ConceptLinker = True) -> pd.DataFrame:
    """AUROC of each query of a query set against its task's labels.

    Parameters
    ----------
    session_emb : array (n, d)
        Row-aligned with ``labels``.
    labels : DataFrame
        One 0/1 column per task (NaN = unlabelled), rows = sessions.
    query_set : dict
        Task -> queries.
    encode_text : callable
    min_pos : int
        Tasks with fewer positives (or negatives) are skipped.
    reference : str, optional
        Contrast every query against this text (:func:`clef.text.queries.query_vector`).
    link : bool or ConceptLinker
        Link each query to its vocabulary finding (:class:`clef.text.linking.ConceptLinker`),
        as the dashboard does; False scores the typed words only; a linker is used as given.

    Returns
    -------
    DataFrame
        task, query, core (what the parser read), negated, auroc, n_pos.
    """
    rows = []
    linker = (link if isinstance(link, ConceptLinker)
              else ConceptLinker(encode_text) if link else None)
    for task, queries in query_set.items():
        labelled = _task_labels(labels, task, min_pos)
        if labelled is None:
            continue
        y, keep, n_pos = labelled
        for query in queries:
            q = parse_query(query)
            s = score_query(session_emb, query, encode_text, reference, linker)
            rows.append({"task": task, "query": query, "core": q.core, "negated": q.negated,
                         "auroc": auroc(y[keep], s[keep]), "n_pos": n_pos})
    return pd.DataFrame(rows, columns=["task", "query", "core", "negated", "auroc", "n_pos"])


def text_side_eval(texts: Sequence[str], labels: pd.DataFrame, concept_prompts: dict,
                   encoders: dict[str, TextEncoder], min_pos: int = 5) -> pd.DataFrame:
    """AUROC of ranking sessions by cosine(own report text, concept prompt ensemble).

    Parameters
    ----------
    texts : sequence of str
        One text per session (its report or findings summary), row-aligned with ``labels``.
    labels : DataFrame
        One 0/1 column per task.
    concept_prompts : dict
        Task -> list of prompts.
    encoders : dict
        Name -> text encoder (e.g. ``{"tower": ..., "backbone": ...}``).

    Returns
    -------
    DataFrame
        task, one AUROC column per encoder, n_pos.
    """
    out = {}
    for name, enc in encoders.items():
        T = _unit(enc(list(texts)))  # (n, d)
        for task, prompts in concept_prompts.items():
            labelled = _task_labels(labels, task, min_pos)
            if labelled is None:
                continue
            y, keep, n_pos = labelled
            c = _unit(_unit(enc(list(prompts))).mean(0))
            out.setdefault(task, {"task": task, "n_pos": n_pos})[name] = auroc(y[keep],
                                                                               (T @ c)[keep])
    cols = ["task", *encoders, "n_pos"]
    return pd.DataFrame(list(out.values()), columns=cols)




def model_encoders(model) -> dict[str, TextEncoder]:
    """``{"tower": trained text tower, "backbone": raw frozen backbone}`` of a ``CLEFModel``,
    both unit-norm numpy encoders over text used as is (no report preprocessing)."""
    import torch

    def tower(texts):
        with torch.no_grad():
            return model.encode_text(list(texts), normalize=True,
                                     preprocess=False).float().cpu().numpy()

    def backbone(texts):
        return np.asarray(model.text.backbone.encode(list(texts)), dtype=np.float32)

    return {"tower": tower, "backbone": backbone}


def session_texts(reports: Sequence[str], sections) -> dict[str, list[str]]:
    """Each session's text two ways: the preprocessed report and its findings summary (the
    affirmed statements; the preprocessed report when nothing is affirmed)."""
    from clef.model.text import preprocess_report
    from clef.text.statements import findings_summary, split_statements

    rep = [preprocess_report(r if isinstance(r, str) else "", sections) for r in reports]
    summ = [findings_summary(split_statements(r)) or c for r, c in zip(reports, rep)]
    return {"report": rep, "findings summary": summ}


def semantics_eval(model, session_emb, reports: Sequence[str], labels: pd.DataFrame,
                   concept_prompts: dict, query_set: dict | None = None) -> dict:
    """Unseen-phrasings zero-shot and the text-side diagnostic for one model.

    Parameters
    ----------
    model : clef.model.CLEFModel
    session_emb : array (n, d)
        Unit-norm embeddings of the evaluated sessions.
    reports : sequence of str
        Their reports, row-aligned.
    labels : DataFrame
        Their 0/1 task labels, row-aligned (one column per task).
    concept_prompts : dict
        Task -> ontology prompts (as used by the ontology zero-shot).
    query_set : dict, optional
        Task -> clinician queries (default: :data:`DEFAULT_QUERY_SET` when it exists).

    Returns
    -------
    dict
        ``unseen`` (per query), ``text_side`` (per task and text form: tower vs backbone AUROC).
    """
    enc = model_encoders(model)
    labels = labels.reset_index(drop=True)
    if query_set is None and DEFAULT_QUERY_SET.exists():
        query_set = load_query_set()
    unseen = (query_set_eval(session_emb, labels, query_set, enc["tower"]) if query_set
              else pd.DataFrame(columns=["task", "query", "core", "negated", "auroc", "n_pos"]))
    sides = []
    for form, texts in session_texts(reports, model.config.text.sections).items():
        ts = text_side_eval(texts, labels, concept_prompts, enc)
        sides.append(ts.assign(text=form))
    return {"unseen": unseen, "text_side": pd.concat(sides, ignore_index=True)}


__all__ = ["DEFAULT_QUERY_SET", "load_query_set", "model_encoders", "query_set_eval",
           "score_query", "semantics_eval", "session_texts", "text_side_eval"]


def _task_labels(labels: pd.DataFrame, task: str, min_pos: int):
    """A task's 0/1 labels, the mask of labelled sessions and the positive count; None when the
    task is absent or has fewer than ``min_pos`` positives or negatives."""
    if task not in labels.columns:
        return None
    y = pd.to_numeric(labels[task], errors="coerce").to_numpy(float)
    keep = np.isfinite(y)
    n_pos = int((y[keep] == 1).sum())
    if min(n_pos, int((y[keep] == 0).sum())) < min_pos:
        return None
    return y, keep, n_pos
