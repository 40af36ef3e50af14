"""Reporting styles: how each reader at each site lays out and words a report.

A style fixes the section headers and their order, terse or narrative layout, whether EEG
abbreviations are introduced (PDR, LPDs, GPDs, FIRDA, IEDs), old or new electrode names (T3/T5 or
T7/P7) and which hedge forms the reader uses ("possible X", "X cannot be excluded", "suspicious
for X", "no definite X" in negatives). Each reader has one style (``READER_STYLES``); per-session
choices inside a style draw from their own stream (``STREAM_REPORT_STYLE``), so styles change
report text only, never the plan, signals, tasks, oracle or the report's other draws.

Hedged and negated statements use the common clinical forms a polarity/certainty splitter reads
(``clef.text.statements``): "possible X", "X cannot be excluded", "suspicious for X",
"no definite X".
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from clef.synth.ontology import ONTOLOGY
from clef.synth.patients import STREAM_REPORT_STYLE, patient_rng
from clef.synth.plan import SessionPlan

SECTIONS = ("history", "medications", "technique", "description", "impression", "correlation")


@dataclass(frozen=True)
class ReportStyle:
    """One reader's reporting habits."""

    name: str
    heads: tuple[str, str, str, str, str, str]  # header of each of SECTIONS
    order: tuple[int, ...] = (0, 1, 2, 3, 4, 5)  # section order (indices into SECTIONS)
    terse: bool = False  # one line per section, impression inline (else paragraphs, numbered)
    abbreviate: bool = False  # "posterior dominant rhythm (PDR)" then "PDR"
    old_electrodes: bool = False  # T3/T4/T5/T6 instead of T7/T8/P7/P8
    electrode_p: float = 0.0  # P(name the electrodes where a lateralized finding is maximal)
    hedges: tuple[str, ...] = ("possible",)  # forms: "possible", "cannot_exclude", "suspicious_for"
    definite_p: float = 0.0  # P(a negative is written "No definite X ...")


_ACNS = ("CLINICAL HISTORY", "MEDICATIONS", "TECHNIQUE", "DESCRIPTION OF THE RECORD", "IMPRESSION",
         "CLINICAL CORRELATION")
_TERSE = ("INDICATION", "MEDICATIONS", "TECHNICAL", "FINDINGS", "IMPRESSION", "CORRELATION")
STYLES: dict[str, ReportStyle] = {s.name: s for s in (
    ReportStyle("acns_narrative", _ACNS),
    ReportStyle("acns_abbreviated", _ACNS, abbreviate=True, electrode_p=0.5,
                hedges=("possible", "cannot_exclude")),
    ReportStyle("impression_first", ("HISTORY", "MEDICATIONS", "TECHNIQUE", "EEG DESCRIPTION",
                                     "IMPRESSION", "CLINICAL CORRELATION"),
                order=(4, 5, 0, 1, 2, 3), old_electrodes=True, electrode_p=0.7,
                hedges=("cannot_exclude", "suspicious_for"), definite_p=0.5),
    ReportStyle("structured", ("REASON FOR STUDY", "CURRENT MEDICATIONS", "INTRODUCTION",
                               "FINDINGS", "INTERPRETATION", "CLINICAL CORRELATION"),
                electrode_p=0.3, hedges=("possible", "suspicious_for"), definite_p=0.3),
    ReportStyle("terse", _TERSE, terse=True, abbreviate=True, old_electrodes=True,
                electrode_p=0.4, hedges=("possible", "suspicious_for"), definite_p=0.4),
    ReportStyle("terse_summary", ("INDICATION", "MEDICATIONS", "TECHNICAL", "FINDINGS", "SUMMARY",
                                  "CORRELATION"), order=(0, 1, 2, 3, 4, 5), terse=True,
                abbreviate=True, hedges=("cannot_exclude", "possible"), definite_p=0.6),
)}
# Site -> one style per reader (index = the report's author drawn from the report stream).
READER_STYLES: dict[str, tuple[str, ...]] = {
    "A": ("acns_narrative", "acns_abbreviated", "impression_first", "structured"),
    "B": ("terse", "terse_summary", "impression_first"),
    "C": ("acns_narrative", "structured"),
    "D": ("terse", "acns_abbreviated"),
}
# (full term as a regex, abbreviation). A term inside a longer phrase that names something else
# ("lateralized or generalized periodic discharges", "generalized periodic discharges with
# triphasic morphology") keeps its words: abbreviating it would name a different finding.
ABBREVIATIONS = ((r"posterior dominant rhythm", "PDR"),
                 (r"lateralized periodic discharges", "LPDs"),
                 (r"(?<!lateralized or )generalized periodic discharges(?! with triphasic)", "GPDs"),
                 (r"frontal intermittent rhythmic delta activity", "FIRDA"),
                 (r"epileptiform discharges", "IEDs"))
_ELECTRODES = {("left", False): "F7, T7 and P7", ("right", False): "F8, T8 and P8",
               ("left", True): "F7, T3 and T5", ("right", True): "F8, T4 and T6"}
_HEDGE_WORD = re.compile(r"\b(possible|probable|questionable) ", re.IGNORECASE)


def reader_style(site: str, author: int) -> ReportStyle:
    """The style of reader ``author`` at ``site`` (readers beyond the table cycle through it)."""
    names = READER_STYLES.get(site, ("acns_narrative",))
    return STYLES[names[int(author) % len(names)]]


def style_rng(plan: SessionPlan) -> np.random.Generator:
    """The session's reporting-style stream (independent of every other stream)."""
    pat = plan.patient
    return patient_rng(pat.seed, plan.site, pat.index, plan.session_index + 1, STREAM_REPORT_STYLE)


def _phrase_in(sentence: str, concept: str) -> str:
    """The concept phrase a sentence uses (as written), else the concept's label."""
    low = sentence.lower()
    for p in ONTOLOGY[concept].phrases:  # longest first
        i = low.find(p)
        if i >= 0:
            return sentence[i:i + len(p)]
    return ONTOLOGY[concept].label


def restyle_hedge(sentence: str, concept: str, style: ReportStyle,
                  rng: np.random.Generator) -> str:
    """Rewrite a "possible X" sentence in one of the style's hedge forms.

    Parameters
    ----------
    sentence : str
        A hedged finding sentence ("There are occasional possible left temporal sharp waves.").
    concept : str
        The finding it reports.
    style : ReportStyle
    rng : numpy.random.Generator
        The style stream.

    Returns
    -------
    str
        Unchanged for the "possible" form; else "X cannot be excluded." / "... suspicious for X."
    """
    form = style.hedges[int(rng.integers(len(style.hedges)))]
    if form == "possible" or not _HEDGE_WORD.search(sentence):
        return sentence
    phrase = _phrase_in(_HEDGE_WORD.sub("", sentence, count=1), concept)
    if form == "cannot_exclude":
        return f"{phrase[:1].upper()}{phrase[1:]} cannot be excluded."
    lead = ("Sharply contoured transients are" if concept.startswith("ied_")
            else "Irregular slow activity is" if concept.startswith("focal_slowing")
            else "The amplitude difference is")
    return f"{lead} suspicious for {phrase}."


def restyle_negative(sentence: str, style: ReportStyle, rng: np.random.Generator) -> str:
    """Write some negatives as "No definite X ..." (a common hedged negative)."""
    if (style.definite_p and sentence.startswith("No ") and "definite" not in sentence
            and rng.random() < style.definite_p):
        return "No definite " + sentence[3:]
    return sentence


def electrode_sentence(name: str, style: ReportStyle, rng: np.random.Generator) -> str:
    """"The field is maximal at F7, T3 and T5." after a lateralized temporal finding, sometimes.

    Draws from the style stream only for lateralized temporal findings.
    """
    if name not in ("ied_left_temporal", "ied_right_temporal", "focal_slowing_left_temporal",
                    "focal_slowing_right_temporal") or not style.electrode_p:
        return ""
    if rng.random() >= style.electrode_p:
        return ""
    side = "left" if "_left_" in name else "right"
    return f"The field is maximal at {_ELECTRODES[(side, style.old_electrodes)]}."


def abbreviate(text: str, style: ReportStyle) -> str:
    """Introduce abbreviations at first use ("... rhythm (PDR)"), then use them."""
    if not style.abbreviate:
        return text
    for full, short in ABBREVIATIONS:
        pat = re.compile(full, re.IGNORECASE)
        m = pat.search(text)
        if m is None:
            continue
        head, tail = text[:m.end()], text[m.end():]
        text = head + f" ({short})" + pat.sub(short, tail)
    return text


def layout(sections: list[str], style: ReportStyle) -> str:
    """Headed sections in the style's order and layout."""
    sep = "\n" if style.terse else "\n\n"
    parts = []
    for i in style.order:
        h, b = style.heads[i], sections[i]
        parts.append(f"{h}: {b}" if "\n" not in b else f"{h}:\n{b}")
    return sep.join(parts)
