"""The :class:`Concept` record shared by every table of the vocabulary."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Concept:
    """One clinical concept: a finding, artifact, diagnosis, medication or demographic.

    Attributes
    ----------
    name : str
        Stable snake_case identifier (also the task name for single-concept tasks).
    category : str
        "finding", "artifact", "phenotype", "medication" or "demographic".
    label : str
        Human-readable name, as a neurologist would write it.
    synonyms : tuple of str
        Phrases reports use for it (lowercase); the label is always one of them.
    signature : str
        EEG signature: topography, morphology, frequency, prevalence and duration in the signal.
        For phenotypes and medications: the known EEG effect ("none known" where medicine knows none).
    icd10 : tuple of str
        ICD-10-CM codes (phenotypes only).
    held_out : bool
        Never named in training-split reports. Always False here: a benchmark that holds
        concepts out (``clef.synth``) sets it on its own copies.
    drug_class : str
        Medication class ("benzodiazepine", "antiseizure", ...); empty for other categories.
    """

    name: str
    category: str
    label: str
    synonyms: tuple[str, ...] = ()
    signature: str = ""
    icd10: tuple[str, ...] = ()
    held_out: bool = False
    drug_class: str = ""
    regions: tuple[str, ...] = field(default=())

    @property
    def phrases(self) -> tuple[str, ...]:
        """Label plus synonyms, lowercase, longest first (for text matching)."""
        out = {self.label.lower(), *(s.lower() for s in self.synonyms)}
        return tuple(sorted(out, key=lambda s: (-len(s), s)))


CATEGORIES = ("finding", "artifact", "phenotype", "medication", "demographic")


def of_category(pool: Iterable[Concept], category: str | None = None) -> list[Concept]:
    """The concepts of ``pool`` in one category (None: all of them), in pool order.

    Parameters
    ----------
    pool : iterable of Concept
    category : str, optional
        One of :data:`CATEGORIES`.

    Returns
    -------
    list of Concept
    """
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"category={category!r} is not one of {CATEGORIES}; pass one of them "
                         "or None")
    return [c for c in pool if category is None or c.category == category]


def _d(name, label, signature):
    return Concept(name, "demographic", label, (), signature)


DEMOGRAPHICS: tuple[Concept, ...] = (
    _d("female", "female sex", "none"),
    _d("age_child", "child (< 18 y)", "slower PDR, higher amplitudes, more HV response"),
    _d("age_elderly", "older adult (>= 65 y)", "slightly slower PDR, more slowing"),
    _d("setting_outpatient", "routine outpatient EEG", "awake/drowsy, HV and photic"),
    _d("setting_emu", "epilepsy monitoring unit", "more sleep"),
    _d("setting_icu", "ICU continuous EEG", "encephalopathic backgrounds"),
)
