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
from clef.vocabulary.concepts import of_category

# Findings the benchmark holds out of training-split reports (zero-shot evaluation).
HELD_OUT: tuple[str, ...] = ("generalized_polyspikes", "lpds", "triphasic_waves", "firda")

FINDINGS: tuple[Concept, ...] = tuple(replace(c, held_out=c.name in HELD_OUT)
                                      for c in _VOCAB_FINDINGS)
ONTOLOGY: dict[str, Concept] = {
    c.name: c for c in (*FINDINGS, *ARTIFACTS, *PHENOTYPES, *MEDICATIONS, *DEMOGRAPHICS)
}
FINDING_NAMES: tuple[str, ...] = tuple(c.name for c in FINDINGS)


def concepts(category: str | None = None) -> list[Concept]:
    """List ontology concepts (held-out flags set), optionally of one category: as
    :func:`clef.vocabulary.concepts`, over :data:`ONTOLOGY`."""
    return of_category(ONTOLOGY.values(), category)


__all__ = ["ARTIFACTS", "ARTIFACT_NAMES", "DEMOGRAPHICS", "FINDINGS", "FINDING_NAMES", "HELD_OUT",
           "ICD10_NAMES", "MEDICATIONS", "MEDICATION_NAMES", "ONTOLOGY", "PHENOTYPES",
           "PHENOTYPE_NAMES", "Concept", "concepts"]
