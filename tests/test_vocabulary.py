"""clef.vocabulary: one clinical vocabulary for the generator, task derivation, zero-shot and the
extractor; codes, classes and names resolve the way CLINICAL_EEG.md says; layers stay apart."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from clef.vocabulary import (
    DIAGNOSIS_ALIASES,
    DRUG_CLASSES,
    MEDICATIONS,
    PHENOTYPE_NAMES,
    PHENOTYPE_TASKS,
    PHENOTYPES,
    VOCABULARY,
    code_matches,
    concepts,
    diagnosis_codes,
    drug_classes_of,
    has_phenotype,
    resolve_diagnosis,
)

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("code, want", [
    ("G40.901", True), ("G40.911", True), ("G40.101", True), ("G40.A11", True),
    ("G41.0", True), ("G40.803", True), ("G40.821", True),
    ("G40.109", False), ("G40.909", False), ("G40.A09", False), ("G40.804", False),
    ("G40.1", False), ("R56.9", False),
])
def test_status_epilepticus_codes(code, want):
    assert has_phenotype("status_epilepticus", [code]) is want


def test_code_patterns():
    assert code_matches("G40.109", "G40.1") and code_matches("g40109", "G40.1")
    assert code_matches("G40.A01", "G40.?01") and not code_matches("G40.A09", "G40.?01")
    assert not code_matches("G4", "G40")
    assert has_phenotype("focal_epilepsy", ["I63.9", "G40.209"])
    assert not has_phenotype("focal_epilepsy", [])
    # every coded diagnosis falls under its own phenotype task
    for c in PHENOTYPES:
        if c.name in PHENOTYPE_TASKS:
            assert all(has_phenotype(c.name, [code]) for code in c.icd10), c.name


def test_drug_classes():
    assert drug_classes_of("Clobazam") == ("antiseizure", "benzodiazepine")
    assert drug_classes_of("pentobarbital") == ("anesthetic",)
    assert drug_classes_of("midazolam") == ("benzodiazepine",)  # a list cannot tell the dose
    assert drug_classes_of("phenobarbital") == ("antiseizure",)
    assert drug_classes_of("aspirin") == ()
    for m in MEDICATIONS:  # the generator's drugs carry the class their task uses
        if m.drug_class in DRUG_CLASSES:
            assert m.name in DRUG_CLASSES[m.drug_class], m.name
        assert drug_classes_of(m.name) or m.drug_class not in DRUG_CLASSES


@pytest.mark.parametrize("typed, want", [
    ("TLE", "focal_epilepsy"), ("temporal lobe epilepsy", "focal_epilepsy"),
    ("G40.109", "focal_epilepsy"), ("SAH", "subarachnoid_hemorrhage"),
    ("CVA", "ischemic_stroke"), ("stroke", "ischemic_stroke"), ("Alzheimer\u2019s", "alzheimer_dementia"),
    ("dementia", "dementia_any"), ("epilepsy", "epilepsy_any"), ("NCSE", "status_epilepticus"),
    ("ESRD", "renal_failure"), ("hypoxic-ischemic encephalopathy", "anoxic_brain_injury"),
    ("JME", "jme"), ("psychogenic non-epileptic seizures", "pnes"), ("  Focal_Epilepsy ", "focal_epilepsy"),
])
def test_resolve_diagnosis(typed, want):
    assert resolve_diagnosis(typed) == want


def test_resolve_unknown_and_codes():
    assert resolve_diagnosis("broken leg") is None
    assert diagnosis_codes("TLE") == ("G40.109", "G40.209")
    assert diagnosis_codes("epilepsy") == PHENOTYPE_TASKS["epilepsy_any"]
    assert diagnosis_codes("nonsense") == ()


def test_aliases_name_known_diagnoses_once():
    known = set(PHENOTYPE_TASKS) | set(PHENOTYPE_NAMES)
    seen: dict[str, str] = {}
    for name, aliases in DIAGNOSIS_ALIASES.items():
        assert name in known, name
        for a in aliases:
            assert a == a.lower() and seen.setdefault(a, name) == name, (a, name, seen[a])


def test_vocabulary_tables():
    assert len(VOCABULARY) >= 80 and len(concepts("finding")) >= 20
    assert not any(c.held_out for c in VOCABULARY.values())  # held-out is a benchmark choice
    with pytest.raises(ValueError, match="category"):
        concepts("drugs")


def test_synth_ontology_is_the_vocabulary_with_held_out_flags():
    from clef.synth.ontology import HELD_OUT, ONTOLOGY

    assert list(ONTOLOGY) == list(VOCABULARY)
    for name, c in ONTOLOGY.items():
        assert dataclasses.replace(c, held_out=False) == VOCABULARY[name]
        assert c.held_out == (name in HELD_OUT)


def _static_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_library_layers_do_not_import_the_generator():
    files = [*sorted((REPO / "clef" / "probe").glob("*.py")), REPO / "clef" / "cohort.py",
             REPO / "clef" / "cohort_build.py", REPO / "clef" / "cohort_sources.py",
             *sorted((REPO / "clef" / "vocabulary").glob("*.py"))]
    text = REPO / "clef" / "text"
    if text.is_dir():
        files += sorted(text.glob("*.py"))
    bad = {str(f.relative_to(REPO)): sorted(m for m in _static_imports(f)
                                             if m == "clef.synth" or m.startswith("clef.synth."))
           for f in files}
    assert {k: v for k, v in bad.items() if v} == {}
