"""Zero-shot concept scoring: prompt ensembles -> text tower -> cosine with session embeddings."""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from clef.errors import InvalidQuery
from clef.metrics import auroc, bootstrap_auroc
from clef.probe.battery import feature_matrix
from clef.text.linking import CONTEXT_WEIGHT, descriptor, phrase_prompts, with_context
from clef.text.queries import prompt_vector, templates_for
from clef.vocabulary import FINDING_NAMES
from clef.vocabulary.relations import related_findings

# Each synonym is put in each template; the prompt embeddings are averaged (prompt ensembling).
# Templates never say "normal" or "abnormal" (clef.text.queries.templates_for); polarity words of
# a concept are contrasted with their antonyms (clef.text.queries.prompt_vector).
TEMPLATES = None  # None: clef.text.queries.templates_for(concept)
GROUP_NAMED = "named in training reports"
GROUP_HELD_OUT = "held-out"

TextEncoder = Callable[[list[str]], np.ndarray]  # list of n texts -> (n, d) embeddings


def concept_prompts(concept: str, synonyms: dict | None = None,
                    templates: Sequence[str] | None = TEMPLATES, max_phrases: int = 6) -> list[str]:
    """Prompts for one concept: each of its phrases (label + synonyms) in each template.

    Parameters
    ----------
    concept : str
        Ontology concept name, e.g. ``"lpds"``.
    synonyms : dict of str -> sequence of str, optional
        Concept -> phrases; default: the synthetic generator's ontology.
    templates : sequence of str, optional
        Format strings with one ``{}``; default: polarity-aware templates for the concept.
    max_phrases : int
        Use at most this many phrases (longest first, as the ontology orders them).

    Returns
    -------
    list of str
    """
    phrases = concept_phrases(concept, synonyms)
    if templates is None:
        templates = templates_for(concept)
    return phrase_prompts(phrases, templates, max_phrases)


def concept_phrases(concept: str, synonyms: dict | None = None) -> list[str]:
    """A concept's phrases (label + synonyms) from ``synonyms`` or the generator's ontology."""
    if synonyms is None:
        from clef.vocabulary import VOCABULARY as ONTOLOGY  # the one clinical vocabulary

        if concept not in ONTOLOGY:
            raise InvalidQuery(f"concept {concept!r} is not in the ontology. Fix: pass one of "
                               f"{sorted(ONTOLOGY)[:8]}... or give synonyms explicitly.")
        phrases = list(ONTOLOGY[concept].phrases)
    else:
        phrases = [str(p) for p in synonyms.get(concept, ())]
    if not phrases:
        raise InvalidQuery(f"concept {concept!r} has no phrases to build prompts from.")
    return phrases


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    return a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-12)


def text_encoder(model, batch_size: int = 64) -> TextEncoder:
    """Wrap a ``CLEFModel`` (anything with ``encode_text(list[str], normalize=True)``) as a numpy
    text encoder."""

    def encode(texts: list[str]) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad():
            for i in range(0, len(texts), batch_size):
                e = model.encode_text(list(texts[i:i + batch_size]), normalize=True)
                out.append(e.detach().float().cpu().numpy() if hasattr(e, "detach")
                           else np.asarray(e))
        return np.concatenate(out, axis=0)  # (n_texts, d)

    return encode


def concept_embeddings(encode_text: TextEncoder, concepts: Sequence[str],
                       synonyms: dict | None = None,
                       templates: Sequence[str] | None = TEMPLATES,
                       descriptors: bool = True,
                       context_weight: float = CONTEXT_WEIGHT) -> np.ndarray:
    """Unit-norm ensemble embedding per concept (:func:`clef.text.queries.prompt_vector`: mean of
    its unit prompt embeddings, "normal"/"abnormal" contrasted with the antonym), plus, with
    ``descriptors``, the unit embedding of its EEG description
    (:func:`clef.text.linking.descriptor`) and its clinical context at ``context_weight``
    (:func:`clef.text.linking.with_context`; 0: none; with ``synonyms``, built only from the
    related findings among ``concepts``), as the dashboard's linked query path builds them.

    Returns
    -------
    np.ndarray, shape (len(concepts), d)
    """
    def encode(texts):
        e = np.asarray(encode_text(list(texts)))
        if e.shape[0] != len(texts):
            raise ValueError(f"text encoder returned {e.shape[0]} embeddings for "
                             f"{len(texts)} prompts.")
        return e

    # the related findings a concept's context is built from (with caller-given synonyms, only
    # those among ``concepts``: the vocabulary's phrases are not the caller's)
    extra = (dict.fromkeys(m for c in concepts if c in FINDING_NAMES for m in related_findings(c)
                           if m not in concepts) if context_weight and synonyms is None else {})
    names = [*concepts, *extra]
    out = []
    for c in names:
        v = prompt_vector(concept_prompts(c, synonyms, templates), encode)  # (d,)
        desc = descriptor(c) if descriptors else ""
        if desc:
            v = v + _unit(encode([desc]).astype(np.float64))[0]
        out.append(v)
    vectors = _unit(np.stack(out))  # (names, d)
    if context_weight:
        vectors = with_context(names, vectors, context_weight)
    return vectors[: len(concepts)]  # (concepts, d)


def zeroshot_scores(session_emb, encode_text: TextEncoder, concepts: Sequence[str],
                    synonyms: dict | None = None, index=None,
                    descriptors: bool = True,
                    context_weight: float = CONTEXT_WEIGHT) -> pd.DataFrame:
    """Cosine similarity of each session embedding with each concept's prompt ensemble.

    Parameters
    ----------
    session_emb : array, shape (n_sessions, d)
    encode_text : callable
        list of str -> (n, d) array (see :func:`text_encoder`).
    concepts : sequence of str
    synonyms : dict, optional
        Concept -> phrases (default: the ontology).
    index : sequence, optional
        Row labels (session ids).
    descriptors : bool
        Add each concept's EEG description (:func:`concept_embeddings`).
    context_weight : float
        Weight of each concept's clinical context (:func:`concept_embeddings`; 0: none).

    Returns
    -------
    DataFrame, shape (n_sessions, n_concepts)
    """
    S = _unit(np.asarray(session_emb, dtype=np.float64))  # (n, d)
    C = concept_embeddings(encode_text, concepts, synonyms, descriptors=descriptors,
                           context_weight=context_weight)  # (k, d)
    if S.shape[1] != C.shape[1]:
        raise ValueError(f"session embeddings have dimension {S.shape[1]} but text embeddings "
                         f"{C.shape[1]}. Fix: use the same model for both towers.")
    return pd.DataFrame(S @ C.T, index=index, columns=list(concepts))


def rank_concepts(embedding, encode_text: TextEncoder, concepts: Sequence[str],
                  synonyms: dict | None = None) -> pd.Series:
    """Concepts ranked by cosine with one session embedding (highest first)."""
    s = zeroshot_scores(np.asarray(embedding).reshape(1, -1), encode_text, concepts, synonyms)
    return s.iloc[0].sort_values(ascending=False)


def _named_in(reports: pd.Series, phrases) -> int:
    alt = "|".join(re.escape(p) for p in phrases)
    pat = re.compile(rf"(?<![\w-])(?:{alt})", re.IGNORECASE)
    return sum(bool(pat.search(str(t))) for t in reports.fillna(""))  # 0 for no reports


def task_phrases(task: str, concept=None, synonyms: dict | None = None) -> list[str]:
    """Phrases for a task's prompt ensemble.

    The ontology concept named like the task (or like its ``concept`` text) gives its label and
    synonyms; otherwise the task table's free-text ``concept`` is the one phrase (e.g.
    "epileptiform discharges" for ``any_epileptiform``).
    """
    text = None if concept is None or (isinstance(concept, float) and np.isnan(concept)) \
        else str(concept)
    for key in (task, text):
        if key is None:
            continue
        try:
            phrases = concept_phrases(key, synonyms)
        except InvalidQuery:
            continue
        if text and text.lower() not in (p.lower() for p in phrases):
            phrases = [*phrases, text]
        return phrases
    if text:
        return [text]
    raise InvalidQuery(f"task {task!r} has no concept text and no ontology entry to build "
                       "prompts from.")


def zeroshot_eval(session_emb, sessions_df: pd.DataFrame, labels_wide: pd.DataFrame,
                  task_info: pd.DataFrame, encode_text: TextEncoder, ids=None, n_boot: int = 200,
                  seed: int = 0, synonyms: dict | None = None,
                  categories: Sequence[str] = ("finding",), min_pos: int = 5,
                  descriptors: bool = True,
                  context_weight: float = CONTEXT_WEIGHT) -> pd.DataFrame:
    """Zero-shot AUROC per task, split into training-report and held-out concepts.

    Parameters
    ----------
    session_emb : array (n_sessions, d) in ``sessions_df`` order, or DataFrame by session_id
    sessions_df : DataFrame
        ``session_id``, ``patient_id``; with ``report`` and ``split`` the number of training-split
        reports naming each concept is counted (0 for a truly held-out concept).
    labels_wide : DataFrame
        Index session_id, one 0/1 column per task.
    task_info : DataFrame
        task, category, held_out, concept (free text or ontology name).
    encode_text : callable
        list of str -> (n, d) array.
    ids : sequence of str, optional
        Sessions to evaluate on (default: all; use held-out patients).
    n_boot, seed : int
        Patient-level bootstrap for the 95% interval.
    synonyms : dict, optional
        Concept -> phrases (default: the ontology); see :func:`task_phrases`.
    categories : sequence of str
        Task categories scored.
    min_pos : int
        Positive (and negative) sessions a task needs to be scored; others are reported as
        skipped (an AUROC over one or two positives says little).
    descriptors : bool
        Add each concept's EEG description to its prompts (False: phrases only, the ablation).
    context_weight : float
        Weight of each concept's clinical context (0: none, the ablation).

    Returns
    -------
    DataFrame
        task, concept, category, held_out, group, status, reason, auroc, ci_low, ci_high, n,
        n_pos, n_train_reports_naming, prompts (the phrases used).
    """
    ids = sessions_df["session_id"].astype(str).tolist() if ids is None else list(map(str, ids))
    tasks = task_info[task_info["category"].isin(categories)].drop_duplicates("task")
    if "concept" not in tasks.columns:
        tasks = tasks.assign(concept=None)
    labels_wide = labels_wide.copy()
    labels_wide.index = labels_wide.index.astype(str)
    X = feature_matrix(session_emb, sessions_df, ids)
    patient = sessions_df.set_index(sessions_df["session_id"].astype(str))["patient_id"].astype(str)
    phrases, rows = {}, []
    for t in tasks.itertuples(index=False):
        try:
            phrases[t.task] = task_phrases(t.task, t.concept, synonyms)
        except InvalidQuery as e:
            rows.append({"task": t.task, "concept": t.concept, "status": "skipped",
                         "reason": str(e)})
    keys = list(phrases)
    scores = (zeroshot_scores(X, encode_text, keys, phrases, descriptors=descriptors,
                               context_weight=context_weight) if keys
              else pd.DataFrame())
    train_reports = None
    if {"report", "split"} <= set(sessions_df.columns):
        train_reports = sessions_df.loc[sessions_df["split"].astype(str) == "train", "report"]
    for i, t in enumerate(tasks.itertuples(index=False)):
        if t.task not in phrases:
            continue
        y = (pd.to_numeric(labels_wide[t.task].reindex(ids), errors="coerce").to_numpy(float)
             if t.task in labels_wide.columns else np.full(len(ids), np.nan))
        keep = np.isfinite(y)
        n_pos, n_neg = int((y[keep] == 1).sum()), int((y[keep] == 0).sum())
        row = {"task": t.task, "concept": t.concept, "n": int(keep.sum()), "n_pos": n_pos,
               "prompts": "; ".join(phrases[t.task])}
        if train_reports is not None:
            row["n_train_reports_naming"] = _named_in(train_reports, phrases[t.task])
        if min(n_pos, n_neg) < max(1, min_pos):
            rows.append({**row, "status": "skipped",
                         "reason": f"{n_pos} positive / {n_neg} negative sessions "
                                   f"(< {max(1, min_pos)})"})
            continue
        s = scores[t.task].to_numpy()[keep]
        lo, hi = bootstrap_auroc(y[keep], s, n_boot=n_boot, seed=seed + i,
                                 groups=patient.reindex(np.asarray(ids)[keep]).to_numpy())
        rows.append({**row, "status": "ok", "reason": "", "auroc": auroc(y[keep], s),
                     "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows)
    meta = tasks.set_index("task")[["category", "held_out"]]
    cols = ["task", "concept", "category", "held_out", "group", "status", "reason", "auroc",
            "ci_low", "ci_high", "n", "n_pos", "n_train_reports_naming", "prompts"]
    if out.empty:
        return pd.DataFrame(columns=cols)
    out["category"] = out["task"].map(meta["category"])
    out["held_out"] = out["task"].map(meta["held_out"]).astype(bool)
    out["group"] = np.where(out["held_out"], GROUP_HELD_OUT, GROUP_NAMED)
    for c in cols:
        if c not in out.columns:
            out[c] = np.nan
    return out[cols]


def summarize_zeroshot(df: pd.DataFrame) -> pd.DataFrame:
    """Mean zero-shot AUROC and task count per group (training-report concepts, held-out)."""
    ok = df[df["status"] == "ok"]
    g = ok.groupby("group")["auroc"].agg(["mean", "count"]).rename(
        columns={"mean": "mean_auroc", "count": "n_tasks"})
    g = g.reindex([GROUP_NAMED, GROUP_HELD_OUT])
    g["n_tasks"] = g["n_tasks"].fillna(0).astype(int)
    return g
