"""A report as statements: each sentence/clause of its findings and impression, with polarity
(affirmed or negated) and certainty (certain or hedged).

The CLEF paper aligns sessions to an LLM summary of each report's electrographic content, not to the
raw report. This is the deterministic, offline equivalent: keep the record-describing sections, cut
them into statements, mark negation and hedging with the NegEx-style triggers of the concept
extractor, and keep the affirmed statements as alignment targets ("No focal slowing is seen" is
never a positive target for focal slowing).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from clef.text.extract import NEG_POST, NEG_PRE, PSEUDO, TERMINATORS, UNC_POST, UNC_PRE

# Sections that describe the record (header contains one of these words, upper-cased).
RECORD_SECTIONS = ("DESCRIPTION", "FINDINGS", "IMPRESSION", "SUMMARY", "INTERPRETATION")
# A section header: an upper-case label at the start of a line ("DESCRIPTION OF THE RECORD:",
# "IMPRESSION:"); "Abnormal EEG due to:" inside a section is text, not a header.
_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z /&()-]{2,60}?)[ \t]*:[ \t]*", re.MULTILINE)
# Sentence ends: ". ", "; ", a blank line (wrapped lines are joined), but not inside decimals ("8.5 Hz") or "approx." style words.
_SENTENCE = re.compile(r"(?<!\d)\.(?=\s|$)|(?<=\d)\.(?=\s+[A-Z]|$)|[;!?]+|\n\s*\n")
# Clause breaks inside a sentence: ", but", " however ", ... (a negation does not cross them).
_TERMS = "|".join(re.escape(t) for t in TERMINATORS)
_CLAUSE = re.compile(rf",?\s+(?:{_TERMS})\s+", re.IGNORECASE)
# List numbering at the start of a line ("1. Diffuse slowing."): dropped, the item is a statement.
_NUMBERING = re.compile(r"^[ \t]*\d{1,2}[.)][ \t]+", re.MULTILINE)
# Two negations whose scopes cancel ("not without", "not absent", "cannot be said to be absent").
_DOUBLE_NEG = re.compile(r"(?<![\w-])(?:not|never|no)\s+(?:\w+\s+){0,3}?"
                         r"(?:without|absent|lacking|unremarkable for the absence of)(?![\w-])",
                         re.IGNORECASE)

POLARITIES = ("affirmed", "negated")
CERTAINTIES = ("certain", "hedged")


def _alternation(words) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda s: (-len(s), s)))


# One pass finds every trigger, leftmost-longest, hedges before negations so that "cannot be
# excluded" and "not ruled out" read as hedges, not as negations; pseudo-triggers negate nothing.
_PSEUDO, _UNC = _alternation(PSEUDO), _alternation(UNC_POST + UNC_PRE)
_NEG = _alternation(NEG_POST + NEG_PRE)
_TRIGGER = re.compile(rf"(?<![\w-])(?:(?P<pseudo>{_PSEUDO})|(?P<unc>{_UNC})|(?P<neg>{_NEG}))(?![\w-])",
                      re.IGNORECASE)


@dataclass(frozen=True)
class Statement:
    """One statement of a report.

    Attributes
    ----------
    text : str
        The statement, whitespace collapsed, ending with a full stop.
    section : str
        Its section header, upper case ("FINDINGS", "IMPRESSION", ...; "" without headers).
    polarity : str
        "affirmed" or "negated".
    certainty : str
        "certain" or "hedged" ("possible ...", "... cannot be excluded").
    """

    text: str
    section: str
    polarity: str
    certainty: str

    @property
    def affirmed(self) -> bool:
        return self.polarity == "affirmed"


def classify(clause: str) -> tuple[str, str]:
    """Polarity and certainty of one clause.

    Parameters
    ----------
    clause : str

    Returns
    -------
    (polarity, certainty) : tuple of str
        ``polarity`` is "negated" when a negation trigger applies and is not cancelled by a second
        one ("not without"); ``certainty`` is "hedged" when a hedge trigger is present.
    """
    body = _DOUBLE_NEG.sub(" ", clause)  # a cancelled pair negates nothing
    neg = unc = False
    for m in _TRIGGER.finditer(body):
        if m.lastgroup == "neg":
            neg = True
        elif m.lastgroup == "unc":
            unc = True
    return ("negated" if neg else "affirmed"), ("hedged" if unc else "certain")


def _sections(text: str) -> list[tuple[str, str]]:
    heads = list(_HEADER.finditer(text))
    if not heads:
        return [("", text)]
    out = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.append((m.group(1).strip().upper(), text[m.end():end]))
    return out


def _clean(s: str) -> str:
    s = " ".join(s.split()).strip(" ,;:-")
    if not s:
        return ""
    s = s[0].upper() + s[1:]
    return s if s.endswith((".", "?", "!")) else s + "."


def split_statements(report: str | None, sections=RECORD_SECTIONS) -> list[Statement]:
    """Cut a report's record-describing sections into statements with polarity and certainty.

    Parameters
    ----------
    report : str or None
        Report text; upper-case ``HEADER:`` lines delimit sections. Without headers the whole text
        is read.
    sections : sequence of str
        Sections kept (a header containing one of these words). History, medications, technique
        and clinical correlation describe the patient or the study, not the record.

    Returns
    -------
    list of Statement
        In text order; empty for an empty report.
    """
    if report is None or not isinstance(report, str) or not report.strip():
        return []
    out: list[Statement] = []
    parts = _sections(report)
    headed = any(h for h, _ in parts)
    for header, body in parts:
        if headed and not any(s in header for s in sections):
            continue
        for sentence in _SENTENCE.split(_NUMBERING.sub("", body)):
            for clause in _CLAUSE.split(sentence):
                text = _clean(clause)
                if len(text) < 4:
                    continue
                polarity, certainty = classify(text)
                out.append(Statement(text, header, polarity, certainty))
    return out


def findings_summary(statements: list[Statement]) -> str:
    """The affirmed statements joined into one text (the report's electrographic content).

    Parameters
    ----------
    statements : list of Statement

    Returns
    -------
    str
        "" when no statement is affirmed.
    """
    return " ".join(s.text for s in statements if s.affirmed)


__all__ = ["CERTAINTIES", "POLARITIES", "RECORD_SECTIONS", "Statement", "classify",
           "findings_summary", "split_statements"]
