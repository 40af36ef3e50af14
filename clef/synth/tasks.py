"""The binary task battery of the synthetic cohort (phenotypes, medications, findings,
demographics/setting) and its labelling rules.

Phenotype and medication labels come from the EHR as recorded (coded diagnoses, medication list:
missing lists give no label); finding labels are the session's true latent findings; demographic
labels come from the sessions table. Task names, code patterns and drug classes come from
:mod:`clef.vocabulary`, as in ``clef.probe.derive`` for real cohorts.
"""
from __future__ import annotations

from dataclasses import dataclass

from clef.synth.ontology import FINDINGS, MEDICATIONS, ONTOLOGY
from clef.vocabulary import (
    AGGREGATE_DIAGNOSES,
    DRUG_CLASSES,
    EPILEPTIFORM,
    NORMAL_FINDINGS,
    PHENOTYPE_TASKS,
    has_phenotype,
)

DRUG_CLASS_TASKS = DRUG_CLASSES  # medication-class tasks: one table (clef.vocabulary)


@dataclass(frozen=True)
class Task:
    """One binary task."""

    name: str
    category: str  # "phenotype", "medication", "finding", "demographic"
    concept: str  # free text for zero-shot scoring
    held_out: bool = False


def task_list() -> list[Task]:
    """All tasks, in a fixed order."""
    out = [Task(n, "phenotype",
                AGGREGATE_DIAGNOSES.get(n, ONTOLOGY[n].label if n in ONTOLOGY else n))
           for n in PHENOTYPE_TASKS]
    out += [Task(m.name, "medication", m.name) for m in MEDICATIONS]
    out += [Task(f"{c}_class", "medication", f"{c.replace('_', ' ')} medication")
            for c in DRUG_CLASS_TASKS]
    out.append(Task("asm_polytherapy", "medication", "two or more antiseizure medications"))
    out += [Task(f.name, "finding", f.label, f.held_out) for f in FINDINGS]
    out += [Task("any_epileptiform", "finding", "epileptiform discharges"),
            Task("focal_slowing_any", "finding", "focal slowing"),
            Task("abnormal_eeg", "finding", "abnormal EEG")]
    out += [Task("female", "demographic", "female patient"),
            Task("age_child", "demographic", "pediatric patient"),
            Task("age_elderly", "demographic", "elderly patient"),
            Task("setting_outpatient", "demographic", "routine outpatient EEG"),
            Task("setting_emu", "demographic", "epilepsy monitoring unit"),
            Task("setting_icu", "demographic", "ICU continuous EEG")]
    return out


TASKS: tuple[Task, ...] = tuple(task_list())


def session_labels(findings, diagnoses, medications, sex, age: float, setting: str) -> dict:
    """Labels of every task for one session (tasks without a known label are absent).

    Parameters
    ----------
    findings : iterable of str
        True latent finding names.
    diagnoses : list of str or None
        Recorded ICD-10 codes (None: unknown).
    medications : list of str or None
        Recorded medications (None: unknown).
    sex : str or None
    age : float
    setting : str

    Returns
    -------
    dict of str -> int
    """
    f = set(findings)
    out: dict[str, int] = {}
    if diagnoses is not None:
        for task in PHENOTYPE_TASKS:
            out[task] = int(has_phenotype(task, diagnoses))
    if medications is not None:
        meds = set(medications)
        for m in MEDICATIONS:
            out[m.name] = int(m.name in meds)
        for cls, members in DRUG_CLASS_TASKS.items():
            out[f"{cls}_class"] = int(bool(meds & set(members)))
        out["asm_polytherapy"] = int(len(meds & set(DRUG_CLASS_TASKS["antiseizure"])) >= 2)
    for fd in FINDINGS:
        out[fd.name] = int(fd.name in f)
    out["any_epileptiform"] = int(bool(f & set(EPILEPTIFORM)))
    out["focal_slowing_any"] = int(any(x.startswith("focal_slowing") for x in f))
    out["abnormal_eeg"] = int(bool(f - set(NORMAL_FINDINGS)))
    if sex is not None:
        out["female"] = int(sex == "F")
    out["age_child"] = int(age < 18)
    out["age_elderly"] = int(age >= 65)
    for s in ("outpatient", "emu", "icu"):
        out[f"setting_{s}"] = int(setting == s)
    return out
