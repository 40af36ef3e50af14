"""The concept ontology of the synthetic clinical EEG cohort: the clinical vocabulary
(:mod:`clef.vocabulary`) with this benchmark's held-out findings marked.

Held-out findings never appear by name or synonym in training-split reports, so a model can be
asked about them zero-shot. Categories: ``finding``, ``artifact``, ``phenotype`` (ICD-10),
``medication``, ``demographic``.
"""
from __future__ import annotations

from dataclasses import replace

from clef.vocabulary import (
    ARTIFACT_NAMES,
    ARTIFACTS,
    DEMOGRAPHICS,
    ICD10_NAMES,
    MEDICATION_NAMES,
    MEDICATIONS,
    PHENOTYPE_NAMES,
    PHENOTYPES,
    Concept,
)
from clef.vocabulary import FINDINGS as _VOCAB_FINDINGS

# Findings the benchmark holds out of training-split reports (zero-shot evaluation).
HELD_OUT: tuple[str, ...] = ("generalized_polyspikes", "lpds", "triphasic_waves", "firda")

FINDINGS: tuple[Concept, ...] = tuple(replace(c, held_out=c.name in HELD_OUT)
                                      for c in _VOCAB_FINDINGS)
ONTOLOGY: dict[str, Concept] = {
    c.name: c for c in (*FINDINGS, *ARTIFACTS, *PHENOTYPES, *MEDICATIONS, *DEMOGRAPHICS)
}
FINDING_NAMES: tuple[str, ...] = tuple(c.name for c in FINDINGS)


def concepts(category: str | None = None) -> list[Concept]:
    """List ontology concepts (held-out flags set), optionally of one category.

    Parameters
    ----------
    category : str, optional
        One of "finding", "artifact", "phenotype", "medication", "demographic".

    Returns
    -------
    list of Concept
    """
    cats = ("finding", "artifact", "phenotype", "medication", "demographic")
    if category is not None and category not in cats:
        raise ValueError(f"category={category!r} is not one of {cats}; pass one of them or None")
    return [c for c in ONTOLOGY.values() if category is None or c.category == category]


__all__ = ["ARTIFACTS", "ARTIFACT_NAMES", "DEMOGRAPHICS", "FINDINGS", "FINDING_NAMES", "HELD_OUT",
           "ICD10_NAMES", "MEDICATIONS", "MEDICATION_NAMES", "ONTOLOGY", "PHENOTYPES",
           "PHENOTYPE_NAMES", "Concept", "concepts"]
