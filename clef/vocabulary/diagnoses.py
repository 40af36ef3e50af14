"""Diagnoses: ICD-10-CM codes with names, the words clinicians type for them, and the phenotype
tasks (code patterns) derived from coded diagnoses.

Codes follow /work/shared/CLINICAL_EEG.md ("Diagnoses (ICD-10-CM)"). A task's pattern matches a
code by prefix, dots ignored; ``?`` matches any one character (``G40.?01``: any epilepsy type
"with status epilepticus").
"""
from __future__ import annotations

import re

from clef.vocabulary.concepts import Concept


def _items(text: str) -> tuple[str, ...]:
    """``"a; b"`` -> ``("a", "b")``."""
    return tuple(part.strip() for part in text.split(";"))


# One row per phenotype: name, label, ICD-10-CM codes ("a; b"), synonyms ("a; b"), what the EEG
# typically shows.
_PHENOTYPE_ROWS: tuple[tuple[str, str, str, str, str], ...] = (
    ("focal_epilepsy", "focal epilepsy", "G40.109; G40.209",
     "localization-related epilepsy; temporal lobe epilepsy; partial epilepsy",
     "focal IEDs in about a third to half of routine studies; focal slowing sometimes"),
    ("generalized_epilepsy", "generalized epilepsy", "G40.309",
     "idiopathic generalized epilepsy; genetic generalized epilepsy",
     "generalized spike-and-wave or polyspikes in some studies"),
    ("absence_epilepsy", "absence epilepsy", "G40.A09",
     "childhood absence epilepsy; absence seizures",
     "3 Hz spike-and-wave, provoked by hyperventilation"),
    ("jme", "juvenile myoclonic epilepsy", "G40.B09",
     "jme",
     "generalized polyspike-and-wave, photoparoxysmal response"),
    ("epilepsy_unspecified", "epilepsy, unspecified", "G40.909",
     "seizure disorder",
     "epileptiform discharges in a minority"),
    ("status_epilepticus", "status epilepticus", "G40.901",
     "refractory status",
     "electrographic seizures, LPDs/GPDs, burst suppression under anesthesia"),
    ("seizure_unspecified", "seizure, unspecified", "R56.9",
     "spells; convulsion",
     "usually normal EEG"),
    ("alzheimer_dementia", "Alzheimer disease", "G30.9",
     "alzheimer's disease",
     "PDR slowing, generalized slowing, FIRDA sometimes"),
    ("dementia_unspecified", "dementia", "F03.90",
     "cognitive decline; major neurocognitive disorder",
     "PDR slowing, generalized slowing"),
    ("ischemic_stroke", "ischemic stroke", "I63.9",
     "cerebral infarction; stroke",
     "focal slowing and attenuation over the lesion; LPDs acutely"),
    ("intracerebral_hemorrhage", "intracerebral hemorrhage", "I61.9",
     "ich",
     "focal slowing, asymmetry, LPDs, seizures"),
    ("subarachnoid_hemorrhage", "subarachnoid hemorrhage", "I60.9",
     "sah",
     "generalized slowing, focal slowing, seizures"),
    ("subdural_hematoma", "subdural hematoma", "I62.00; S06.5X0A",
     "sdh",
     "ipsilateral attenuation and focal slowing"),
    ("tbi", "traumatic brain injury", "S06.9X0A",
     "head injury",
     "focal or generalized slowing; seizures acutely"),
    ("metabolic_encephalopathy", "metabolic encephalopathy", "G93.41",
     "toxic-metabolic encephalopathy; septic encephalopathy",
     "generalized slowing, FIRDA, triphasic waves"),
    ("hepatic_encephalopathy", "hepatic encephalopathy", "K76.82",
     "liver failure",
     "generalized slowing, triphasic waves"),
    ("toxic_encephalopathy", "toxic encephalopathy", "G92.8",
     "drug toxicity",
     "generalized slowing, GPDs, excess beta (sedatives)"),
    ("anoxic_brain_injury", "anoxic brain injury", "G93.1",
     "hypoxic-ischemic encephalopathy",
     "burst suppression, GPDs, suppression, generalized slowing"),
    ("cardiac_arrest", "cardiac arrest", "I46.9",
     "post-arrest",
     "burst suppression or GPDs after anoxic injury"),
    ("brain_tumor", "malignant brain tumor", "C71.9",
     "glioma; brain neoplasm",
     "continuous focal polymorphic slowing; IEDs; LPDs"),
    ("cns_infection", "encephalitis", "G04.90; G00.9",
     "meningitis; hsv encephalitis",
     "generalized slowing; temporal LPDs and seizures in HSV"),
    ("syncope", "syncope", "R55",
     "fainting",
     "no EEG correlate interictally"),
    ("migraine", "migraine", "G43.909",
     "headache",
     "no reliable EEG correlate"),
    ("pnes", "psychogenic non-epileptic seizures", "F44.5",
     "functional seizures; non-epileptic events; pnes",
     "normal EEG during events"),
    ("altered_mental_status", "altered mental status", "R41.82",
     "confusion; ams",
     "generalized slowing often"),
    ("sleep_disorder", "sleep disorder", "G47.9",
     "insomnia",
     "none on routine EEG"),
    ("renal_failure", "chronic kidney disease", "N18.6",
     "renal failure; esrd",
     "triphasic waves in uremia and with cefepime"),
    ("bipolar_disorder", "bipolar disorder", "F31.9",
     "bipolar",
     "none (lithium effects)"),
    ("depression", "major depressive disorder", "F32.9",
     "depression",
     "none"),
)

PHENOTYPES: tuple[Concept, ...] = tuple(
    Concept(name, "phenotype", label, _items(synonyms), signature, icd10=_items(codes))
    for name, label, codes, synonyms, signature in _PHENOTYPE_ROWS)

PHENOTYPE_NAMES: tuple[str, ...] = tuple(c.name for c in PHENOTYPES)
ICD10_NAMES: dict[str, str] = {code: c.label for c in PHENOTYPES for code in c.icd10}

# Phenotype task -> ICD-10(-CM) code patterns (prefixes; dots ignored; "?" = any one character).
# Status epilepticus: ICD-10-CM codes it in the 6th character of G40 (G40.x01 / G40.x11 "with
# status epilepticus"; in the G40.8 block G40.801/.803, .811/.813, .821/.823), WHO ICD-10 as G41.
PHENOTYPE_TASKS: dict[str, tuple[str, ...]] = {
    "epilepsy_any": ("G40", "G41"),
    "focal_epilepsy": ("G40.0", "G40.1", "G40.2"),
    "generalized_epilepsy": ("G40.3", "G40.4", "G40.A", "G40.B"),
    "absence_epilepsy": ("G40.A",),
    "jme": ("G40.B",),
    "status_epilepticus": ("G41", "G40.?01", "G40.?11", "G40.803", "G40.813", "G40.821",
                           "G40.823"),
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
# Aggregate phenotype tasks (several diagnoses) -> the plain name of the group.
AGGREGATE_DIAGNOSES: dict[str, str] = {"epilepsy_any": "epilepsy", "dementia_any": "dementia",
                                       "encephalopathy_any": "encephalopathy"}

# What a clinician types for a diagnosis (abbreviations, eponyms, older and lay names), beyond the
# label and the report synonyms above. Lowercase; used to resolve a typed name to a concept.
DIAGNOSIS_ALIASES: dict[str, tuple[str, ...]] = {
    "epilepsy_any": ("epilepsy", "seizure disorder", "epileptic", "sz disorder"),
    "focal_epilepsy": ("tle", "mtle", "mesial temporal lobe epilepsy", "focal onset epilepsy",
                       "frontal lobe epilepsy", "fle", "localization related epilepsy",
                       "benign rolandic epilepsy", "bects",
                       "self-limited epilepsy with centrotemporal spikes"),
    "generalized_epilepsy": ("ige", "gge", "primary generalized epilepsy"),
    "absence_epilepsy": ("cae", "jae", "juvenile absence epilepsy", "petit mal",
                         "absence epilepsy"),
    "jme": ("janz syndrome", "juvenile myoclonic epilepsy", "myoclonic epilepsy"),
    "epilepsy_unspecified": ("epilepsy nos", "seizure disorder nos"),
    "status_epilepticus": ("se", "nonconvulsive status", "ncse", "convulsive status",
                           "refractory status epilepticus", "super-refractory status"),
    "seizure_unspecified": ("seizure", "seizures", "first seizure", "new onset seizure",
                            "convulsions", "fits"),
    "alzheimer_dementia": ("alzheimer's", "alzheimers", "alzheimer's dementia", "ad",
                           "alzheimer disease"),
    "dementia_any": ("dementia", "neurocognitive disorder", "memory loss"),
    "dementia_unspecified": ("dementia nos", "senile dementia", "mci with dementia"),
    "ischemic_stroke": ("cva", "acute ischemic stroke", "ais", "infarct", "brain infarct",
                        "mca stroke", "mca infarct"),
    "intracerebral_hemorrhage": ("ich", "iph", "intraparenchymal hemorrhage", "brain bleed",
                                 "hemorrhagic stroke"),
    "subarachnoid_hemorrhage": ("sah", "aneurysmal sah", "aneurysmal subarachnoid hemorrhage"),
    "subdural_hematoma": ("sdh", "subdural", "chronic subdural", "csdh", "subdural hemorrhage"),
    "tbi": ("traumatic brain injury", "head trauma", "concussion", "diffuse axonal injury"),
    "encephalopathy_any": ("encephalopathy", "delirium", "encephalopathic"),
    "metabolic_encephalopathy": ("tme", "toxic metabolic encephalopathy", "septic encephalopathy",
                                 "uremic encephalopathy", "sepsis-associated encephalopathy"),
    "hepatic_encephalopathy": ("he", "portosystemic encephalopathy", "hepatic coma",
                               "cirrhosis with encephalopathy"),
    "toxic_encephalopathy": ("drug-induced encephalopathy", "overdose", "intoxication"),
    "anoxic_brain_injury": ("hie", "hypoxic ischemic brain injury", "anoxic injury",
                            "hypoxic brain injury", "anoxic encephalopathy"),
    "cardiac_arrest": ("post cardiac arrest", "s/p cardiac arrest", "vf arrest",
                       "pea arrest", "rosc"),
    "brain_tumor": ("gbm", "glioblastoma", "brain cancer", "brain mass", "brain metastases",
                    "astrocytoma"),
    "cns_infection": ("hsv", "herpes encephalitis", "viral encephalitis",
                      "bacterial meningitis", "meningoencephalitis", "cns infection"),
    "syncope": ("passing out", "vasovagal syncope", "loss of consciousness", "loc"),
    "migraine": ("migraine headache", "migraine with aura", "migraines"),
    "pnes": ("psychogenic seizures", "pseudoseizures", "functional neurological disorder",
             "fnd", "dissociative seizures", "nes"),
    "altered_mental_status": ("ams", "altered sensorium", "confusion", "unresponsiveness",
                              "mental status change", "ms change"),
    "sleep_disorder": ("osa", "obstructive sleep apnea", "narcolepsy", "parasomnia",
                       "sleep apnea"),
    "renal_failure": ("ckd", "esrd", "aki", "acute kidney injury", "renal insufficiency",
                      "uremia", "kidney failure"),
    "bipolar_disorder": ("bipolar", "manic depression", "bpad"),
    "depression": ("mdd", "major depression", "depressive disorder"),
}


def _norm_code(code: str) -> str:
    return str(code).upper().replace(".", "").strip()


def code_matches(code: str, pattern: str) -> bool:
    """Whether an ICD-10 code falls under a pattern (prefix; dots ignored; ``?`` any character).

    Parameters
    ----------
    code : str
        E.g. ``"G40.101"``.
    pattern : str
        E.g. ``"G40.1"`` or ``"G40.?01"``.

    Returns
    -------
    bool
    """
    c, p = _norm_code(code), _norm_code(pattern)
    return len(c) >= len(p) and all(q == "?" or q == x for q, x in zip(p, c))


def has_phenotype(task: str, codes) -> bool:
    """Whether any of ``codes`` belongs to phenotype ``task`` (see ``PHENOTYPE_TASKS``)."""
    patterns = PHENOTYPE_TASKS[task]
    return any(code_matches(c, p) for c in codes for p in patterns)


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", str(text).lower().replace("’", "'")).strip()


def _diagnosis_index() -> dict[str, str]:
    """Typed name (normalized) -> concept/task name, from labels, synonyms, aliases and codes."""
    idx: dict[str, str] = {}
    for name, text in AGGREGATE_DIAGNOSES.items():
        idx.setdefault(_key(text), name)
    for c in PHENOTYPES:
        idx.setdefault(_key(c.name), c.name)
        for phrase in (c.label, *c.synonyms):
            idx.setdefault(_key(phrase), c.name)
        for code in c.icd10:
            idx.setdefault(_key(code), c.name)
    for name, aliases in DIAGNOSIS_ALIASES.items():
        for a in aliases:
            idx.setdefault(_key(a), name)
    return idx


_INDEX = _diagnosis_index()


def resolve_diagnosis(text: str) -> str | None:
    """The diagnosis concept (or aggregate phenotype task) a clinician's words name.

    Parameters
    ----------
    text : str
        A name as typed: a label ("focal epilepsy"), a report synonym ("stroke"), an abbreviation
        ("TLE", "SAH", "ESRD"), or an ICD-10 code ("G40.109").

    Returns
    -------
    str or None
        A key of ``PHENOTYPE_TASKS`` or a name of ``PHENOTYPES``; None when unknown.
    """
    return _INDEX.get(_key(text))


def diagnosis_codes(name: str) -> tuple[str, ...]:
    """ICD-10 codes (or, for aggregate tasks, code patterns) of a diagnosis name.

    Parameters
    ----------
    name : str
        A phenotype concept or task name, or anything :func:`resolve_diagnosis` understands.

    Returns
    -------
    tuple of str
        Empty when the name is unknown.
    """
    key = name if (name in PHENOTYPE_TASKS or name in PHENOTYPE_NAMES) else resolve_diagnosis(name)
    if key is None:
        return ()
    by_name = {c.name: c for c in PHENOTYPES}
    return by_name[key].icd10 if key in by_name else PHENOTYPE_TASKS.get(key, ())
