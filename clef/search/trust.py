"""Scores a clinician can trust: the query's task by name/synonym/abbreviation, a null
distribution of unrelated text through the same query path, held-out AUROC.

A raw cosine says little: the shipped model gives "asdfgh" a higher top score than a real
finding. What the page shows instead is each session's percentile in the cohort
(:func:`clef.search.fusion.percentile`), whether the query's best matches beat what unrelated
text reaches (:func:`match_strength`), and an AUROC on held-out sessions only (:func:`auroc_on`).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clef.text.queries import expand, parse_query
from clef.vocabulary import (
    AGGREGATE_DIAGNOSES,
    AGGREGATE_PHRASES,
    DIAGNOSIS_ALIASES,
    DRUG_CLASSES,
    VOCABULARY,
)

# Unrelated text, pushed through the same query path as a real query. Nonsense strings and
# everyday sentences; deliberately no EEG words.
NULL_TEXTS: tuple[str, ...] = (
    "qwerty uiop", "zxcvbnm", "lorem ipsum dolor sit amet", "the weather is sunny today",
    "please pass the salt", "quarterly tax return due in april", "banana bread recipe",
    "the train leaves at noon", "blue car parked outside", "football match results",
    "my cat likes to sleep on the sofa", "invoice number 4471", "hello world", "xyzzy plugh",
    "buy two tickets for the concert", "the stock market fell today", "how to bake sourdough",
    "mountain hiking trail map", "kjhgfd lkjh", "purple elephant dancing", "password reset link",
    "the meeting is moved to friday", "chocolate chip cookies", "wxq pfft blorg",
)
TOP = 10  # the statistic: mean score of the best TOP sessions above the cohort's median
NULL_QUANTILE = 0.95  # "no better than unrelated text": at or under this quantile of the null

# Queries that ask for the absence of a task's finding ("normal EEG" = not abnormal_eeg).
INVERSE_PHRASES: dict[str, str] = {
    "normal eeg": "abnormal_eeg", "normal study": "abnormal_eeg", "normal record": "abnormal_eeg",
    "normal recording": "abnormal_eeg", "normal awake eeg": "abnormal_eeg",
    "normal routine eeg": "abnormal_eeg", "within normal limits": "abnormal_eeg",
}
_EFFECT = re.compile(r"\s+(?:effect|effects|use|exposure|medication|medications|drugs?|class)$")
_SIDES = ("left", "right")


def _key(text: str) -> str:
    return " ".join(re.sub(r"[_\-/,.;:()]+", " ", str(text).lower()).split())


def top_mean(scores: np.ndarray, top: int = TOP) -> float:
    """Mean of the best ``top`` scores."""
    s = np.sort(np.asarray(scores, dtype=np.float64)[np.isfinite(scores)])
    return float(s[-top:].mean()) if len(s) else float("nan")


def top_lift(scores: np.ndarray, top: int = TOP) -> float:
    """Mean of the best ``top`` scores minus the median score (the statistic compared with the
    null). A query vector can sit close to or far from every session at once (a shared offset
    that says nothing about any finding); the lift over the cohort's typical session removes it.
    With the raw top mean, "generalized slowing" (zero-shot AUROC 0.995) scored below nonsense
    text on the shipped model: 0.115 against a null 95th percentile of 0.164; its lift is 0.221
    against 0.167."""
    s = np.asarray(scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    return top_mean(s, top) - float(np.median(s)) if len(s) else float("nan")


@dataclass(frozen=True)
class MatchStrength:
    """How a query's best EEG matches compare with unrelated text.

    Attributes
    ----------
    statistic : float
        Mean cosine of the query's best ``TOP`` sessions minus the cohort's median cosine.
    null_threshold : float
        The ``NULL_QUANTILE`` quantile of the same statistic over ``NULL_TEXTS``.
    null_percentile : float
        Percentage of unrelated texts the query beats (0-100).
    beats_null : bool
        ``statistic > null_threshold``.
    """

    statistic: float
    null_threshold: float
    null_percentile: float
    beats_null: bool


def null_statistics(embeddings: np.ndarray, encode_query, texts=NULL_TEXTS,
                    top: int = TOP) -> np.ndarray:
    """The ``top_lift`` statistic of each unrelated text (the null distribution).

    Parameters
    ----------
    embeddings : np.ndarray
        (n, D) unit session embeddings.
    encode_query : callable
        ``str -> (D,)`` unit query vector: the same path as real queries
        (``clef.index.text_vector``).
    texts : sequence of str
    top : int

    Returns
    -------
    np.ndarray
        (len(texts),) float64.
    """
    e = np.asarray(embeddings, dtype=np.float32)
    return np.array([top_lift(e @ np.asarray(encode_query(t), dtype=np.float32), top)
                     for t in texts])


def match_strength(scores: np.ndarray, null: np.ndarray, top: int = TOP,
                   quantile: float = NULL_QUANTILE) -> MatchStrength:
    """Compare a query's cohort scores with the null statistics.

    Parameters
    ----------
    scores : np.ndarray
        (n,) cosine of every session with the query.
    null : np.ndarray
        :func:`null_statistics` of the same cohort and model.
    top, quantile :
        See ``TOP`` and ``NULL_QUANTILE``.

    Returns
    -------
    MatchStrength
    """
    stat = top_lift(scores, top)
    null = np.asarray(null, dtype=np.float64)
    thr = float(np.quantile(null, quantile)) if len(null) else float("-inf")
    pct = float(100.0 * (null < stat).mean()) if len(null) else 100.0
    return MatchStrength(stat, thr, pct, bool(stat > thr))


@functools.lru_cache(maxsize=1)
def vocabulary_terms() -> frozenset:
    """Every word of clef's clinical vocabulary (labels and synonyms of findings, artifacts,
    diagnoses, medications; drug classes), as search terms."""
    from clef.search.keyword import tokenize

    words = set()
    for c in VOCABULARY.values():
        for p in (c.name, *c.phrases):
            words.update(tokenize(p))
    for cls, members in DRUG_CLASSES.items():
        words.update(tokenize(" ".join((cls, *members))))
    return frozenset(words)


def is_known_query(query: str, report_terms=()) -> bool:
    """Whether any word of a query is a clinical term clef or the cohort's reports know.

    Parameters
    ----------
    query : str
    report_terms : iterable of str
        Query terms found in the reports (``ReportIndex.known_terms``).

    Returns
    -------
    bool
        False for nonsense such as "asdfgh" (a text tower still maps it somewhere).
    """
    from clef.search.keyword import query_terms

    if any(True for _ in report_terms):
        return True
    try:
        terms = query_terms(query)[0]
    except Exception:  # noqa: BLE001 - an unreadable query knows nothing
        return False
    return bool(set(terms) & vocabulary_terms())


# ---- query -> task ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskMatch:
    """The task a query names, if any.

    Attributes
    ----------
    task : str or None
    inverted : bool
        The query asks for the task's absence ("normal EEG", "no LPDs"): its positives are the
        task's negatives.
    phrase : str
        The task phrase that matched ("" without a match).
    """

    task: str | None = None
    inverted: bool = False
    phrase: str = ""


@functools.lru_cache(maxsize=8)
def _phrase_table(tasks: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """{normalised phrase: task} from task names, concepts, vocabulary synonyms and aliases."""
    names = {t for t, _ in tasks}
    out: dict[str, str] = {}

    def add(phrase, task):
        if task in names and phrase:
            out.setdefault(_key(phrase), task)

    for task, concept in tasks:
        add(task, task)
        add(concept, task)
        c = VOCABULARY.get(task)
        for p in (c.phrases if c is not None else ()):
            add(p, task)
        if task.endswith("_class"):
            cls = task[: -len("_class")]
            for p in (cls, f"{cls}s", f"{cls} medication", *DRUG_CLASSES.get(cls, ())):
                add(p, task)
    for task, phrases in AGGREGATE_PHRASES.items():
        for p in phrases:
            add(p, task)
    for task, text in AGGREGATE_DIAGNOSES.items():
        add(text, task)
    for task, aliases in DIAGNOSIS_ALIASES.items():
        for a in aliases:
            add(a, task)
    return out


def _words(text: str) -> set[str]:
    from clef.search.keyword import tokenize

    return set(tokenize(text))


def _overlap_match(query: str, table: dict[str, str]) -> tuple[str | None, str]:
    """Best phrase by word overlap (Jaccard >= 0.5, same side when either names a side)."""
    q = _words(query)
    if not q:
        return None, ""
    best, best_j, best_p = None, 0.0, ""
    for phrase, task in table.items():
        p = _words(phrase)
        if not p or any(s not in q for s in _SIDES if s in p):  # a sided task needs that side
            continue
        j = len(q & p) / len(q | p)
        if j > best_j or (j == best_j and best is not None and len(phrase) < len(best_p)):
            best, best_j, best_p = task, j, phrase
    return (best, best_p) if best_j >= 0.5 else (None, "")


def match_query_task(query: str, task_info: pd.DataFrame | None) -> TaskMatch:
    """The task a clinician's query names: by task name, concept, synonym or abbreviation.

    Parameters
    ----------
    query : str
        E.g. "3 Hz spike-and-wave", "benzodiazepine effect", "R temporal LPDs", "normal EEG".
    task_info : pd.DataFrame
        Columns ``task`` and optionally ``concept`` (``Cohort.task_info()``).

    Returns
    -------
    TaskMatch
        ``task`` None when nothing matches well enough to score the query against.
    """
    if task_info is None or len(task_info) == 0 or not str(query or "").strip():
        return TaskMatch()
    concepts = (task_info["concept"] if "concept" in task_info.columns
                else task_info["task"]).astype("string").fillna("")
    table = _phrase_table(tuple(zip(task_info["task"].astype(str), concepts.astype(str))))
    try:
        parsed = parse_query(query)
        core, negated = parsed.core, parsed.negated
    except Exception:  # noqa: BLE001 - an unreadable query simply names no task
        core, negated = str(query), False
    forms = list(dict.fromkeys(_key(f) for f in (query, core, expand(str(query)))))
    forms += [_EFFECT.sub("", f) for f in forms if _EFFECT.search(f)]
    for f in forms:
        if f in INVERSE_PHRASES and INVERSE_PHRASES[f] in table.values():
            return TaskMatch(INVERSE_PHRASES[f], not negated, f)
        if f in table:
            return TaskMatch(table[f], negated, f)
    task, phrase = _overlap_match(core, table)
    return TaskMatch(task, negated, phrase) if task is not None else TaskMatch()


def auroc_on(scores: np.ndarray, labels: np.ndarray, keep: np.ndarray | None = None
             ) -> tuple[float, int, int]:
    """AUROC of scores against 0/1 labels (-1 = unlabelled) on the kept sessions.

    Parameters
    ----------
    scores : np.ndarray
        (n,).
    labels : np.ndarray
        (n,) 1, 0 or -1.
    keep : np.ndarray of bool, optional
        (n,) e.g. ``split == "test"``: the held-out sessions the model never saw.

    Returns
    -------
    auroc, n_pos, n_neg : float, int, int
        NaN when a class is missing.
    """
    y = np.asarray(labels)
    ok = y >= 0 if keep is None else (y >= 0) & np.asarray(keep, dtype=bool)
    n_pos, n_neg = int((y[ok] == 1).sum()), int((y[ok] == 0).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan"), n_pos, n_neg
    # the probes' rank AUROC (not sklearn's roc_auc_score: its input checks cost ~0.1 s per
    # query at 100k sessions in the dashboard)
    from clef.metrics import auroc

    return auroc(y[ok], np.asarray(scores, dtype=np.float64)[ok]), n_pos, n_neg


__all__ = [
    "INVERSE_PHRASES",
    "NULL_QUANTILE",
    "NULL_TEXTS",
    "TOP",
    "MatchStrength",
    "TaskMatch",
    "auroc_on",
    "is_known_query",
    "match_query_task",
    "match_strength",
    "null_statistics",
    "top_lift",
    "top_mean",
    "vocabulary_terms",
]
