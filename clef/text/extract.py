"""Negation-aware concept extraction from EEG report text (NegEx-style, over ontology synonyms).

Part of the text pipeline: :mod:`clef.text.statements` reads polarity with the same triggers.

"No epileptiform discharges were seen" is a negative mention; "rare left temporal sharp waves" a
positive one; "possible left temporal sharp waves" a positive-uncertain one. Matching is
leftmost-longest over each concept's phrases; a negation or hedge trigger applies to the concept
mentions of its own clause (clauses end at ``.;:``, at "but", "however", "except", ..., and at a
new quantified item such as ", frequent ...").
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from clef.text.distinct import read_each_once

# Trigger phrases (lowercase). "pre" triggers act on mentions after them, "post" on mentions before.
NEG_PRE = ("no", "not", "without", "absence of", "absent", "no evidence of", "no definite",
           "no clear", "no clear evidence of", "negative for", "free of", "neither", "nor",
           "did not show", "does not show", "no further", "there were no", "there was no",
           "rather than", "never")
NEG_POST = ("not seen", "were not seen", "was not seen", "is not seen", "are not seen",
            "not present", "were not present", "was not present", "were absent", "was absent",
            "is absent", "are absent", "absent", "not observed", "were not observed",
            "was not observed", "not identified", "were not identified", "was not identified",
            "not recorded", "were not recorded", "was not recorded", "not captured",
            "were not captured", "did not occur", "not evident", "not noted", "were not noted",
            "was not noted", "none")
UNC_PRE = ("possible", "possibly", "probable", "probably", "questionable", "suspicious for",
           "suspected", "suspect", "may represent", "might represent", "could represent", "may be",
           "cannot exclude", "can not exclude", "cannot rule out", "equivocal", "borderline",
           "likely", "suggestive of", "concerning for", "query", "?")
UNC_POST = ("cannot be excluded", "cannot be ruled out", "can not be excluded", "not excluded",
            "not ruled out", "is possible", "are possible", "is suspected", "are suspected",
            "questionable", "of uncertain significance", "less likely")
PSEUDO = ("no change", "not only", "no significant change", "without change", "not necessarily",
          "no longer")  # contain "no"/"not"/"without" but negate nothing
TERMINATORS = ("but", "however", "although", "though", "except", "aside from", "apart from",
               "whereas", "while", "which", "otherwise")
QUANTIFIERS = ("rare", "rarely", "occasional", "occasionally", "frequent", "frequently", "abundant",
               "continuous", "intermittent", "intermittently", "periodic", "sporadic", "there")
# Report sections that describe the record; history/medication/technique text is skipped when the
# report has recognizable headers (a reason for study "evaluate for seizure" is not a finding).
SKIP_SECTIONS = ("clinical history", "history", "indication", "reason for study", "medications",
                 "medication", "technique", "introduction", "technical", "clinical information",
                 "patient history", "current medications")
_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z /&-]{2,40}?)\s*:", re.MULTILINE)

STATUSES = ("positive", "uncertain", "negative")


@dataclass(frozen=True)
class Mention:
    """One concept mention: ``status`` is "positive", "uncertain" (hedged) or "negative"."""

    concept: str
    phrase: str
    start: int
    end: int
    status: str
    trigger: str = ""


def _alt(phrases) -> str:
    return "|".join(re.escape(p) for p in sorted(set(phrases), key=lambda s: (-len(s), s)))


def _bounded(body: str) -> str:
    return rf"(?<![\w-])(?:{body})(?![\w-])"


def ontology_synonyms(categories=("finding",)) -> dict[str, tuple[str, ...]]:
    """Concept name -> phrases (label + synonyms) from the synthetic generator's ontology.

    Parameters
    ----------
    categories : tuple of str
        Ontology categories to include (default: EEG findings only).

    Returns
    -------
    dict of str -> tuple of str
    """
    from clef.vocabulary import concepts  # the one clinical vocabulary

    return {c.name: c.phrases for cat in categories for c in concepts(cat) if c.phrases}


class ConceptExtractor:
    """Find concept mentions and their negation/hedge status in report text.

    Parameters
    ----------
    synonyms : dict of str -> sequence of str, optional
        Concept name -> phrases. Default: the ontology's findings (:func:`ontology_synonyms`).
    sections : bool
        Skip history/medication/technique sections when the report has headers.
    """

    def __init__(self, synonyms: dict | None = None, sections: bool = True):
        syn = ontology_synonyms() if synonyms is None else synonyms
        self.synonyms = {str(k): tuple(str(p).lower().strip() for p in v if str(p).strip())
                         for k, v in syn.items()}
        owner: dict[str, str] = {}
        for concept, phrases in self.synonyms.items():
            for p in phrases:
                owner.setdefault(p, concept)  # a phrase shared by two concepts counts for the first
        self._owner = owner
        if not owner:
            raise ValueError("ConceptExtractor: no phrases given. Fix: pass synonyms or install "
                             "the ontology (clef.synth).")
        # optional plural so "sharp wave" also matches "sharp waves", "seizure" -> "seizures"
        self._concept_re = re.compile(_bounded(rf"(?P<p>{_alt(owner)})(?:e?s)?"), re.IGNORECASE)
        self._trigger_re = re.compile(
            _bounded("|".join(f"(?P<{name}>{_alt(words)})" for name, words in
                              (("pseudo", PSEUDO), ("unc_post", UNC_POST), ("neg_post", NEG_POST),
                               ("unc_pre", UNC_PRE), ("neg_pre", NEG_PRE)))), re.IGNORECASE)
        term, quant = _alt(TERMINATORS), _alt(QUANTIFIERS)
        self._clause_re = re.compile(  # sentence ends, terminators, ", <quantifier>" new items
            rf"[.;:!\n]+(?:\s|$)|[()]|\s+(?:{term})\s+|,\s*(?:and\s+)?(?=(?:{quant})\b)"
            rf"|\s+and\s+(?=(?:{quant})\b)", re.IGNORECASE)
        self.sections = sections

    # -- text segmentation ---------------------------------------------------------------------
    def _spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of the text to read: everything, or the non-skipped sections."""
        if not self.sections:
            return [(0, len(text))]
        heads = [m for m in _HEADER.finditer(text)]
        if not heads:
            return [(0, len(text))]
        spans = [(0, heads[0].start())]
        for i, m in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            if m.group(1).strip().lower() not in SKIP_SECTIONS:
                spans.append((m.end(), end))
        return [(a, b) for a, b in spans if b > a]

    def _clauses(self, text: str):
        for a, b in self._spans(text):
            pos = a
            for m in self._clause_re.finditer(text, a, b):
                yield pos, m.start()
                pos = m.end()
            yield pos, b

    # -- extraction ----------------------------------------------------------------------------
    def extract(self, text: str) -> list[Mention]:
        """All concept mentions in ``text`` with their status.

        Parameters
        ----------
        text : str
            A report.

        Returns
        -------
        list of Mention
            In text order.
        """
        if text is None or (isinstance(text, float) and np.isnan(text)):
            return []
        text = str(text)
        out: list[Mention] = []
        for a, b in self._clauses(text):
            if b <= a:
                continue
            hits = list(self._concept_re.finditer(text, a, b))
            if not hits:
                continue
            triggers = []
            for t in self._trigger_re.finditer(text, a, b):
                if any(t.start() < h.end() and h.start() < t.end() for h in hits):
                    continue  # a trigger word inside a concept phrase is part of the phrase
                kind = t.lastgroup
                if kind != "pseudo":
                    triggers.append((kind, t.start(), t.end(), t.group(0)))
            for h in hits:
                status, trig, best = "positive", "", None
                for kind, s, e, word in triggers:
                    if kind.endswith("pre") and e <= h.start():
                        dist = h.start() - e
                    elif kind.endswith("post") and s >= h.end():
                        dist = s - h.end()
                    else:
                        continue
                    if best is None or dist < best:
                        best = dist
                        status = "negative" if kind.startswith("neg") else "uncertain"
                        trig = word.lower()
                phrase = h.group("p").lower()
                out.append(Mention(self._owner[phrase], phrase, h.start(), h.end(), status, trig))
        return out

    def labels(self, text: str, uncertain: int = 1) -> dict[str, int]:
        """One 0/1 label per concept: 1 when any mention is positive (or uncertain, by default).

        Parameters
        ----------
        text : str
            A report.
        uncertain : int
            Label for a concept mentioned only with a hedge (1: positive-uncertain counts).

        Returns
        -------
        dict of str -> int
            Every concept of the extractor; unmentioned and negated concepts are 0.
        """
        out = dict.fromkeys(self.synonyms, 0)
        for m in self.extract(text):
            if m.status == "positive":
                out[m.concept] = 1
            elif m.status == "uncertain" and uncertain:
                out[m.concept] = max(out[m.concept], int(uncertain))
        return out

    def label_frame(self, reports, index=None, uncertain: int = 1) -> pd.DataFrame:
        """Wide 0/1 table (reports x concepts), int8.

        Parameters
        ----------
        reports : sequence of str
        index : sequence, optional
            Row labels (e.g. session ids).
        uncertain : int
            See :meth:`labels`.
        """
        rows, which = read_each_once(reports, lambda r: self.labels(r, uncertain=uncertain))
        out = pd.DataFrame(rows, columns=list(self.synonyms)).astype("int8").iloc[which]
        return out.set_axis(pd.RangeIndex(len(which)) if index is None else pd.Index(index))


def measure_extractor(sessions_df: pd.DataFrame, oracle_df: pd.DataFrame,
                      extractor: ConceptExtractor | None = None) -> pd.DataFrame:
    """Per-concept precision/recall of the extractor on reports against the synthetic oracle.

    Parameters
    ----------
    sessions_df : DataFrame
        ``session_id`` and ``report``.
    oracle_df : DataFrame
        True latent findings: ``session_id`` and ``concept`` (one row per finding occurrence or
        interval; extra columns ignored).
    extractor : ConceptExtractor, optional
        Default: over the ontology's findings.

    Returns
    -------
    DataFrame
        Columns concept, n_true, n_pred, tp, fp, fn, precision, recall, f1 (NaN where undefined),
        one row per extractor concept, plus a final ``micro`` row.
    """
    ex = extractor or ConceptExtractor()
    for col in ("session_id", "report"):
        if col not in sessions_df.columns:
            raise ValueError(f"measure_extractor: sessions lack column {col!r}.")
    for col in ("session_id", "concept"):
        if col not in oracle_df.columns:
            raise ValueError(f"measure_extractor: oracle lacks column {col!r}.")
    sids = sessions_df["session_id"].astype(str).to_numpy()
    pred = ex.label_frame(sessions_df["report"].tolist(), index=sids)
    truth = pd.DataFrame(0, index=sids, columns=pred.columns, dtype="int8")
    o = oracle_df[oracle_df["session_id"].astype(str).isin(set(sids))]
    for sid, concept in zip(o["session_id"].astype(str), o["concept"].astype(str)):
        if concept in truth.columns:
            truth.loc[sid, concept] = 1
    t, p = truth.to_numpy().astype(bool), pred.to_numpy().astype(bool)
    tp = (t & p).sum(0)
    fp = (~t & p).sum(0)
    fn = (t & ~p).sum(0)
    res = pd.DataFrame({"concept": pred.columns, "n_true": t.sum(0), "n_pred": p.sum(0),
                        "tp": tp, "fp": fp, "fn": fn})
    res.loc[len(res)] = ["micro", t.sum(), p.sum(), tp.sum(), fp.sum(), fn.sum()]
    with np.errstate(invalid="ignore", divide="ignore"):
        res["precision"] = res["tp"] / (res["tp"] + res["fp"])
        res["recall"] = res["tp"] / (res["tp"] + res["fn"])
        res["f1"] = 2 * res["precision"] * res["recall"] / (res["precision"] + res["recall"])
    return res
