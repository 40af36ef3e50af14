"""The clinical vocabulary: one table of EEG findings, artifacts, diagnoses (ICD-10-CM),
medications (with classes) and demographics, used by the synthetic generator (``clef.synth``),
task derivation (``clef.probe.derive``), zero-shot prompts (``clef.probe.zeroshot``) and the
report extractor (``clef.text.extract``).

Clinical facts follow /work/shared/CLINICAL_EEG.md. Nothing here is synthetic: which concepts a
benchmark holds out is the benchmark's choice (``clef.synth.ontology.HELD_OUT``).

Modules: :mod:`~clef.vocabulary.findings` (findings, artifacts, finding groups),
:mod:`~clef.vocabulary.diagnoses` (codes, names, clinician aliases, phenotype tasks),
:mod:`~clef.vocabulary.drugs` (medications and classes), :mod:`~clef.vocabulary.concepts`
(the :class:`Concept` record, demographics).
"""
from __future__ import annotations

from clef.vocabulary.concepts import CATEGORIES, DEMOGRAPHICS, Concept, of_category
from clef.vocabulary.diagnoses import (
    AGGREGATE_DIAGNOSES,
    DIAGNOSIS_ALIASES,
    ICD10_NAMES,
    PHENOTYPE_NAMES,
    PHENOTYPE_TASKS,
    PHENOTYPES,
    code_matches,
    diagnosis_codes,
    has_phenotype,
    resolve_diagnosis,
)
from clef.vocabulary.drugs import DRUG_CLASSES, MEDICATION_NAMES, MEDICATIONS, drug_classes_of
from clef.vocabulary.findings import (
    AGGREGATE_PHRASES,
    ARTIFACT_NAMES,
    ARTIFACTS,
    EPILEPTIFORM,
    FINDING_NAMES,
    FINDINGS,
    NORMAL_FINDINGS,
)

VOCABULARY: dict[str, Concept] = {
    c.name: c for c in (*FINDINGS, *ARTIFACTS, *PHENOTYPES, *MEDICATIONS, *DEMOGRAPHICS)
}


def concepts(category: str | None = None) -> list[Concept]:
    """List vocabulary concepts, optionally of one category.

    Parameters
    ----------
    category : str, optional
        One of "finding", "artifact", "phenotype", "medication", "demographic".

    Returns
    -------
    list of Concept
    """
    return of_category(VOCABULARY.values(), category)


__all__ = [
    "AGGREGATE_DIAGNOSES", "AGGREGATE_PHRASES", "ARTIFACTS", "ARTIFACT_NAMES", "CATEGORIES",
    "DEMOGRAPHICS", "DIAGNOSIS_ALIASES", "DRUG_CLASSES", "EPILEPTIFORM", "FINDINGS",
    "FINDING_NAMES", "ICD10_NAMES", "MEDICATIONS", "MEDICATION_NAMES", "NORMAL_FINDINGS",
    "PHENOTYPES", "PHENOTYPE_NAMES", "PHENOTYPE_TASKS", "VOCABULARY", "Concept", "code_matches",
    "concepts", "diagnosis_codes", "drug_classes_of", "has_phenotype", "resolve_diagnosis",
]
