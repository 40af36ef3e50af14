"""Report keyword search: BM25 over what each report *says*, negation-aware.

Each report is cut into statements (:func:`clef.text.statements.split_statements`); affirmed
statements and negated statements go into two separate BM25 indexes (``bm25s``), so "focal
slowing" finds reports that report focal slowing and not those that say "There is no focal
slowing", while "no focal slowing" searches the negated statements. Query words are expanded as
clinicians type them (:func:`clef.text.queries.parse_query`: "LPDs", "T3", "L temporal").

Why ``bm25s``: at 100k reports a query takes 7 ms (median, this class) against 62 ms for SQLite
FTS5 and 159 ms for ``rank-bm25`` on the same reports (``benchmarks/search.py``, results in
``benchmarks/results/search.md``). Building the index for 100k distinct reports takes ~76 s
(statement splitting), once per process; a report repeated word for word (templated normal
reports) is split once.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clef.errors import InvalidQuery
from clef.text.distinct import read_each_once
from clef.text.queries import expand, parse_query
from clef.text.statements import split_statements

STOPWORDS = frozenset(
    ["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its", "of", "on", "or", "over", "the", "there", "this", "to", "was", "were", "with", "which", "seen", "noted", "present", "show", "shows", "showed", "eeg", "record", "recording", "during"])
_WORD = re.compile(r"[a-z0-9]+")


def stem(word: str) -> str:
    """A light plural stemmer ("discharges" -> "discharge", "spikes" -> "spike").

    Parameters
    ----------
    word : str
        Lower-case word.

    Returns
    -------
    str
    """
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s"):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Words of a text for BM25: lower case, stop words dropped, plurals stemmed.

    Parameters
    ----------
    text : str
        Any text (a report, a statement or a query); non-strings are cast with ``str``.

    Returns
    -------
    list of str
        The words in text order, repeats kept.
    """
    return [stem(w) for w in _WORD.findall(str(text).lower()) if w not in STOPWORDS]


def statement_terms(text: str) -> list[str]:
    """BM25 terms of report text: abbreviations and electrode names expanded as in queries
    ("LPDs at T4" -> "lateralized periodic discharges at right temporal"), the short forms kept.

    Parameters
    ----------
    text : str
        Report text (here, the affirmed or the negated statements of a report, joined).

    Returns
    -------
    list of str
        The expanded text's terms first, then the short forms it does not already hold.
    """
    words = tokenize(text)
    long = tokenize(expand(text))
    return long + [w for w in words if w not in set(long)]


def query_terms(query: str) -> tuple[list[str], bool]:
    """BM25 terms of a clinician's query and whether it asks for the finding's absence.

    Parameters
    ----------
    query : str
        Free text; abbreviations and electrode names are expanded first.

    Returns
    -------
    terms : list of str
        Unique terms, in query order.
    negated : bool
        True for "no LPDs": search the negated statements.
    """
    q = parse_query(query)
    terms = list(dict.fromkeys(tokenize(q.core) + ([] if q.negated else tokenize(q.text))))
    return terms, q.negated


@dataclass
class _Part:
    """One BM25 index over some statements of every report."""

    retriever: object | None
    doc_row: np.ndarray  # (n_docs,) session row of each indexed document


def _report_terms(report) -> tuple[list[str], list[str]]:
    """BM25 terms of a report's affirmed statements and of its negated ones (none without one)."""
    stmts = split_statements(report) if isinstance(report, str) else []
    return (statement_terms(" ".join(s.text for s in stmts if s.affirmed)),
            statement_terms(" ".join(s.text for s in stmts if not s.affirmed)))


def _bm25(docs: list[list[str]]):
    import bm25s

    if not any(docs):
        return None
    r = bm25s.BM25()
    r.index(docs, show_progress=False)
    return r


class ReportIndex:
    """BM25 keyword index over session reports (affirmed and negated statements apart).

    Parameters
    ----------
    session_ids : sequence of str
        Row order of the results (the index's session table).
    reports : sequence of str or None
        One report per session; sessions without a report are never found here.

    Examples
    --------
    >>> idx = ReportIndex(["s1", "s2"], ["FINDINGS: Right temporal LPDs.", "FINDINGS: No LPDs."])
    >>> idx.search("LPDs")["session_id"].tolist()
    ['s1']
    """

    def __init__(self, session_ids, reports):
        self.session_ids = np.asarray([str(s) for s in session_ids])
        reports = list(reports)
        if len(reports) != len(self.session_ids):
            raise ValueError(f"{len(reports)} reports for {len(self.session_ids)} sessions. Fix: "
                             "pass one report (or None) per session.")
        terms, which = read_each_once(reports, _report_terms)
        aff = [terms[i][0] for i in which]
        neg = [terms[i][1] for i in which]
        self.has_report = np.array([bool(a or n) for a, n in zip(aff, neg)])
        self.vocabulary = frozenset(w for d in (*aff, *neg) for w in d)
        self._parts = {}
        for name, docs in (("affirmed", aff), ("negated", neg)):
            rows = np.flatnonzero([bool(d) for d in docs])
            self._parts[name] = _Part(_bm25([docs[i] for i in rows]), rows)

    def __len__(self) -> int:
        return len(self.session_ids)

    def known_terms(self, query: str) -> list[str]:
        """The query's terms that occur in some report (affirmed or negated): none for
        "asdfgh", whatever the EEG model makes of it."""
        return [t for t in query_terms(query)[0] if t in self.vocabulary]

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every session for a query (0 where no query term occurs).

        Parameters
        ----------
        query : str

        Returns
        -------
        np.ndarray
            float32, (n_sessions,), in ``session_ids`` order.
        """
        terms, negated = query_terms(query)
        out = np.zeros(len(self), dtype=np.float32)
        part = self._parts["negated" if negated else "affirmed"]
        if not terms or part.retriever is None:
            return out
        out[part.doc_row] = np.asarray(part.retriever.get_scores(terms), dtype=np.float32)
        return out

    def search(self, query: str, k: int = 100, mask: np.ndarray | None = None) -> pd.DataFrame:
        """The best ``k`` sessions whose report matches the query.

        Parameters
        ----------
        query : str
        k : int
        mask : np.ndarray of bool, optional
            (n_sessions,) sessions allowed (e.g. metadata filters).

        Returns
        -------
        pd.DataFrame
            ``row``, ``session_id``, ``score``, ``rank`` (1 = best); only sessions with a score
            above 0, so fewer than ``k`` rows when few reports use the query's words.
        """
        if int(k) < 1:
            raise InvalidQuery(f"k={k}: must be at least 1.")
        s = self.scores(query)
        if mask is not None:
            s = np.where(np.asarray(mask, dtype=bool), s, 0.0)
        hits = np.flatnonzero(s > 0)
        top = hits[np.argsort(-s[hits], kind="stable")[: int(k)]]
        return pd.DataFrame({"row": top, "session_id": self.session_ids[top],
                             "score": s[top], "rank": np.arange(1, len(top) + 1)})


__all__ = ["STOPWORDS", "ReportIndex", "query_terms", "statement_terms", "stem", "tokenize"]
