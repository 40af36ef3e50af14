"""The binary task battery of the synthetic cohort (phenotypes, medications, findings,
demographics/setting) and its labelling rules.

Phenotype and medication labels come from the EHR as recorded (coded diagnoses, medication list:
missing lists give no label); finding labels are the session's true latent findings; demographic
labels come from the sessions table. Task names match ``clef.probe.derive`` for real cohorts.
"""
from __future__ import annotations

from dataclasses import dataclass

from clef.synth.ontology import FINDINGS, MEDICATIONS, ONTOLOGY

# Phenotype task -> ICD-10 code prefixes (same names and prefixes as clef.probe.derive).
PHENOTYPE_TASKS: dict[str, tuple[str, ...]] = {
    "epilepsy_any": ("G40", "G41"),
    "focal_epilepsy": ("G40.0", "G40.1", "G40.2"),
    "generalized_epilepsy": ("G40.3", "G40.4", "G40.A", "G40.B"),
    "absence_epilepsy": ("G40.A",),
    "jme": ("G40.B",),
    "status_epilepticus": ("G40.901", "G40.911", "G41"),
    "seizure_unspecified": ("R56.9",),
    "alzheimer_dementia": ("G30",),
    "dementia_any": ("G30", "G31.0", "F01", "F02", "F03"),
    "ischemic_stroke": ("I63",),
    "intracerebral_hemorrhage": ("I61",),
    "subarachnoid_hemorrhage": ("I60",),
    "subdural_hematoma": ("I62.0", "S06.5"),
    "tbi": ("S06",),
    "encephalopathy_any": ("G93.4", "G92", "K76.82", "K72", "G93.1"),
    "metabolic_encephalopathy": ("G93.41",),
    "hepatic_encephalopathy": ("K76.82", "K72"),
    "toxic_encephalopathy": ("G92",),
    "anoxic_brain_injury": ("G93.1",),
    "cardiac_arrest": ("I46",),
    "brain_tumor": ("C71",),
    "cns_infection": ("G00", "G01", "G02", "G03", "G04", "G05", "B00.4", "A87"),
    "syncope": ("R55",),
    "migraine": ("G43",),
    "pnes": ("F44.5",),
    "altered_mental_status": ("R41.82",),
    "sleep_disorder": ("G47",),
    "renal_failure": ("N17", "N18", "N19"),
    "bipolar_disorder": ("F31",),
    "depression": ("F32", "F33"),
}
_PHENO_CONCEPT = {"epilepsy_any": "epilepsy", "dementia_any": "dementia",
                  "encephalopathy_any": "encephalopathy"}
DRUG_CLASS_TASKS: dict[str, tuple[str, ...]] = {
    "antiseizure": tuple(m.name for m in MEDICATIONS if m.drug_class in ("antiseizure", "barbiturate")),
    "benzodiazepine": tuple(m.name for m in MEDICATIONS if m.drug_class == "benzodiazepine"),
    "anesthetic": ("propofol", "dexmedetomidine"),
    "opioid": tuple(m.name for m in MEDICATIONS if m.drug_class == "opioid"),
    "antipsychotic": tuple(m.name for m in MEDICATIONS if m.drug_class == "antipsychotic"),
    "antidepressant": tuple(m.name for m in MEDICATIONS if m.drug_class == "antidepressant"),
}
EPILEPTIFORM = ("ied_left_temporal", "ied_right_temporal", "ied_centrotemporal", "ied_frontal",
                "gsw_3hz", "generalized_polyspikes")
NORMAL_FINDINGS = ("normal_pdr", "vertex_waves", "sleep_spindles", "k_complexes",
                   "photic_driving", "hv_response")


@dataclass(frozen=True)
class Task:
    """One binary task."""

    name: str
    category: str  # "phenotype", "medication", "finding", "demographic"
    concept: str  # free text for zero-shot scoring
    held_out: bool = False


def _norm(code: str) -> str:
    return code.upper().replace(".", "")


def task_list() -> list[Task]:
    """All tasks, in a fixed order."""
    out = [Task(n, "phenotype", _PHENO_CONCEPT.get(n, ONTOLOGY[n].label if n in ONTOLOGY else n))
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
        codes = [_norm(c) for c in diagnoses]
        for task, prefixes in PHENOTYPE_TASKS.items():
            out[task] = int(any(c.startswith(_norm(p)) for c in codes for p in prefixes))
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
