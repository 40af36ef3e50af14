"""Medications: generic names, their classes and known EEG effects, and the medication-class
tasks.

EEG effects follow /work/shared/CLINICAL_EEG.md ("Medications"). ``MEDICATIONS`` are the drugs the
synthetic generator prescribes, each with its pharmacological class; ``DRUG_CLASSES`` are the
task classes (a drug may be in several: clobazam is an antiseizure benzodiazepine, pentobarbital
a barbiturate given as an anesthetic) and list the common real-world members too.
"""
from __future__ import annotations

from clef.vocabulary.concepts import Concept


def _m(name, drug_class, signature="none known"):
    return Concept(name, "medication", name, (), signature, drug_class=drug_class)


MEDICATIONS: tuple[Concept, ...] = (
    _m("levetiracetam", "antiseizure", "little visible effect"),
    _m("lamotrigine", "antiseizure", "little visible effect"),
    _m("valproate", "antiseizure", "can reduce generalized discharges"),
    _m("phenytoin", "antiseizure", "mild background slowing"),
    _m("carbamazepine", "antiseizure", "mild background slowing"),
    _m("lacosamide", "antiseizure", "none known"),
    _m("ethosuximide", "antiseizure", "reduces 3 Hz spike-and-wave"),
    _m("topiramate", "antiseizure", "none known"),
    _m("phenobarbital", "barbiturate", "excess beta"),
    _m("lorazepam", "benzodiazepine", "excess frontal beta; slowing at high dose"),
    _m("clonazepam", "benzodiazepine", "excess frontal beta"),
    _m("midazolam", "benzodiazepine", "beta; burst suppression at anesthetic doses"),
    _m("propofol", "anesthetic", "beta at sedation; burst suppression at high dose"),
    _m("dexmedetomidine", "anesthetic", "spindle-like activity; none distinctive here"),
    _m("fentanyl", "opioid", "slowing at high dose"),
    _m("oxycodone", "opioid", "slowing at high dose"),
    _m("haloperidol", "antipsychotic", "mild slowing"),
    _m("quetiapine", "antipsychotic", "mild slowing"),
    _m("clozapine", "antipsychotic", "slowing; sometimes epileptiform discharges"),
    _m("lithium", "mood_stabilizer", "slowing; triphasic waves at toxicity"),
    _m("amitriptyline", "antidepressant", "slowing and beta"),
    _m("sertraline", "antidepressant", "none known"),
    _m("cefepime", "antibiotic", "triphasic waves / GPDs in renal failure"),
    _m("baclofen", "muscle_relaxant", "GPDs at toxicity"),
    _m("donepezil", "cholinesterase_inhibitor", "none known"),
    _m("sumatriptan", "triptan", "none known"),
)

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
