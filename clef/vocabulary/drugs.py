"""Medications: generic names, their classes and known EEG effects, and the medication-class
tasks.

EEG effects follow /work/shared/CLINICAL_EEG.md ("Medications"). ``MEDICATIONS`` are the drugs the
synthetic generator prescribes, each with its pharmacological class; ``DRUG_CLASSES`` are the
task classes (a drug may be in several: clobazam is an antiseizure benzodiazepine, pentobarbital
a barbiturate given as an anesthetic) and list the common real-world members too.
"""
from __future__ import annotations

from clef.vocabulary.concepts import Concept

# Pharmacological class -> (generic name, known EEG effect) of each drug the generator prescribes;
# MEDICATIONS lists them in this order.
_PRESCRIBED: dict[str, tuple[tuple[str, str], ...]] = {
    "antiseizure": (
        ("levetiracetam", "little visible effect"), ("lamotrigine", "little visible effect"),
        ("valproate", "can reduce generalized discharges"),
        ("phenytoin", "mild background slowing"), ("carbamazepine", "mild background slowing"),
        ("lacosamide", "none known"), ("ethosuximide", "reduces 3 Hz spike-and-wave"),
        ("topiramate", "none known")),
    "barbiturate": (("phenobarbital", "excess beta"),),
    "benzodiazepine": (
        ("lorazepam", "excess frontal beta; slowing at high dose"),
        ("clonazepam", "excess frontal beta"),
        ("midazolam", "beta; burst suppression at anesthetic doses")),
    "anesthetic": (
        ("propofol", "beta at sedation; burst suppression at high dose"),
        ("dexmedetomidine", "spindle-like activity; none distinctive here")),
    "opioid": (("fentanyl", "slowing at high dose"), ("oxycodone", "slowing at high dose")),
    "antipsychotic": (
        ("haloperidol", "mild slowing"), ("quetiapine", "mild slowing"),
        ("clozapine", "slowing; sometimes epileptiform discharges")),
    "mood_stabilizer": (("lithium", "slowing; triphasic waves at toxicity"),),
    "antidepressant": (("amitriptyline", "slowing and beta"), ("sertraline", "none known")),
    "antibiotic": (("cefepime", "triphasic waves / GPDs in renal failure"),),
    "muscle_relaxant": (("baclofen", "GPDs at toxicity"),),
    "cholinesterase_inhibitor": (("donepezil", "none known"),),
    "triptan": (("sumatriptan", "none known"),),
}

MEDICATIONS: tuple[Concept, ...] = tuple(
    Concept(name, "medication", name, (), signature, drug_class=drug_class)
    for drug_class, drugs in _PRESCRIBED.items() for name, signature in drugs)

MEDICATION_NAMES: tuple[str, ...] = tuple(c.name for c in MEDICATIONS)

# Medication-class task "<class>_class" -> generic names (lowercase). Each drug is also its own task.
# Anesthetics are the agents given to sedate or to induce coma (propofol, dexmedetomidine,
# ketamine, pentobarbital); midazolam stays a benzodiazepine: a medication list does not say
# whether it ran at anesthetic dose.
DRUG_CLASSES: dict[str, tuple[str, ...]] = {
    "antiseizure": ("levetiracetam", "lamotrigine", "valproate", "valproic acid", "phenytoin",
                    "fosphenytoin", "carbamazepine", "oxcarbazepine", "lacosamide", "ethosuximide",
                    "topiramate", "zonisamide", "brivaracetam", "clobazam", "phenobarbital"),
    "benzodiazepine": ("lorazepam", "clonazepam", "diazepam", "midazolam", "clobazam",
                       "alprazolam"),
    "anesthetic": ("propofol", "dexmedetomidine", "ketamine", "pentobarbital"),
    "opioid": ("fentanyl", "oxycodone", "morphine", "hydromorphone", "methadone"),
    "antipsychotic": ("haloperidol", "quetiapine", "clozapine", "olanzapine", "risperidone"),
    "antidepressant": ("amitriptyline", "nortriptyline", "sertraline", "fluoxetine",
                       "citalopram", "escitalopram"),
}


def drug_classes_of(name: str) -> tuple[str, ...]:
    """Task classes a drug belongs to (lowercase generic name), in ``DRUG_CLASSES`` order.

    Parameters
    ----------
    name : str

    Returns
    -------
    tuple of str
        E.g. ``("antiseizure", "benzodiazepine")`` for clobazam; empty for an unknown drug.
    """
    n = str(name).strip().lower()
    return tuple(cls for cls, members in DRUG_CLASSES.items() if n in members)
