"""Latent patient model: demographics, setting, true diagnoses and chronic medications.

A patient is drawn from ``(seed, site, patient_index)`` alone, so any session can be regenerated
without the rest of the cohort. Diagnoses come from setting- and age-dependent presentation tables
with co-occurrence rules; medications are conditioned on diagnoses (sessions add acute drugs).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clef.synth.sites import SiteProfile

# RNG stream ids (the last element of every seed sequence). Never renumber: it changes cohorts.
STREAM_PATIENT = 0
STREAM_PLAN = 1
STREAM_SIGNAL = 2
STREAM_REPORT = 3
STREAM_EHR = 4
STREAM_REPORT_STYLE = 5  # reporting-style choices (separate, so styles never shift other draws)

SETTINGS = ("outpatient", "emu", "icu")
TEST_FRACTION = 0.25  # patient-level share of the "test" split (held-out concepts evaluated here)

EPILEPSY = ("focal_epilepsy", "generalized_epilepsy", "absence_epilepsy", "jme",
            "epilepsy_unspecified", "status_epilepticus")
STRUCTURAL = ("ischemic_stroke", "intracerebral_hemorrhage", "subdural_hematoma", "brain_tumor",
              "tbi", "subarachnoid_hemorrhage")

# Primary presentations by setting: name -> (weight, min_age, max_age).
PRESENTATIONS: dict[str, dict[str, tuple[float, float, float]]] = {
    "outpatient": {
        "focal_epilepsy": (0.16, 0, 120), "generalized_epilepsy": (0.05, 4, 60),
        "absence_epilepsy": (0.05, 3, 16), "jme": (0.03, 10, 40),
        "epilepsy_unspecified": (0.04, 0, 120), "seizure_unspecified": (0.14, 0, 120),
        "syncope": (0.12, 5, 120), "migraine": (0.07, 6, 75),
        "alzheimer_dementia": (0.05, 60, 120), "dementia_unspecified": (0.04, 55, 120),
        "altered_mental_status": (0.05, 0, 120), "pnes": (0.04, 12, 80),
        "ischemic_stroke": (0.04, 30, 120), "tbi": (0.03, 3, 120), "brain_tumor": (0.02, 3, 120),
        "sleep_disorder": (0.03, 5, 120), "status_epilepticus": (0.005, 0, 120),
    },
    "emu": {
        "focal_epilepsy": (0.45, 0, 120), "generalized_epilepsy": (0.10, 4, 60),
        "jme": (0.05, 10, 40), "absence_epilepsy": (0.03, 3, 16), "pnes": (0.22, 10, 80),
        "epilepsy_unspecified": (0.07, 0, 120), "syncope": (0.04, 5, 120),
        "seizure_unspecified": (0.04, 0, 120), "status_epilepticus": (0.02, 0, 120),
    },
    "icu": {
        "cardiac_arrest": (0.12, 0, 120), "ischemic_stroke": (0.12, 20, 120),
        "intracerebral_hemorrhage": (0.09, 20, 120), "subarachnoid_hemorrhage": (0.06, 20, 120),
        "subdural_hematoma": (0.05, 20, 120), "tbi": (0.08, 0, 120), "cns_infection": (0.05, 0, 120),
        "metabolic_encephalopathy": (0.15, 0, 120), "hepatic_encephalopathy": (0.06, 20, 120),
        "toxic_encephalopathy": (0.05, 12, 120), "status_epilepticus": (0.08, 0, 120),
        "brain_tumor": (0.03, 10, 120), "seizure_unspecified": (0.06, 0, 120),
    },
}

PDR_AGE_POINTS = ((0.0, 3.5), (0.33, 4.0), (1.0, 6.0), (3.0, 8.0), (8.0, 9.3), (15.0, 10.0),
                  (60.0, 10.0), (95.0, 9.2))  # (age years, mean normal PDR Hz)


def normal_pdr_hz(age: float) -> float:
    """Mean normal posterior dominant rhythm frequency (Hz) at an age (years)."""
    a, f = zip(*PDR_AGE_POINTS)
    return float(np.interp(age, a, f))


@dataclass
class Patient:
    """One synthetic patient (everything constant across the patient's sessions)."""

    seed: int
    site: str
    index: int
    age: float  # years at the first session
    sex: str  # "F" or "M"
    setting: str  # "outpatient", "emu" or "icu"
    diagnoses: list[str]  # true phenotype concept names
    chronic_meds: list[str]  # medication concept names taken at home
    lesion_side: str  # "left"/"right": side of structural lesion or focal epilepsy
    focus: str  # epilepsy focus: "temporal", "frontal" or "centrotemporal"
    split: str  # "train" or "test"
    n_sessions: int  # 1-3
    traits: dict = field(default_factory=dict)  # stable signal traits (PDR offset, amplitude...)

    @property
    def patient_id(self) -> str:
        return f"{self.site}-P{self.index:06d}"


def patient_rng(seed: int, site: SiteProfile, index: int, *stream: int) -> np.random.Generator:
    """Generator for one patient (stream 0) or one of its sessions' streams."""
    return np.random.default_rng([int(seed), site.code, int(index), *stream])


def _draw_age(rng: np.random.Generator, setting: str, child_p: float) -> float:
    p_child = {"outpatient": child_p, "emu": child_p * 0.9, "icu": 0.05}[setting]
    if rng.random() < p_child:
        return float(np.clip(18.0 * rng.beta(2.2, 1.3), 0.3, 17.9))
    mean, sd = {"outpatient": (50.0, 18.0), "emu": (38.0, 14.0), "icu": (63.0, 15.0)}[setting]
    return float(np.clip(rng.normal(mean, sd), 18.0, 97.0))


def _choose(rng: np.random.Generator, table: dict, age: float, exclude=()) -> str:
    names = [n for n, (_, lo, hi) in table.items() if lo <= age <= hi and n not in exclude]
    w = np.array([table[n][0] for n in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def _diagnoses(rng: np.random.Generator, setting: str, age: float, sex: str) -> list[str]:
    table = PRESENTATIONS[setting]
    dx = [_choose(rng, table, age)]
    if rng.random() < 0.2:
        dx.append(_choose(rng, table, age, exclude=dx))
    s = set(dx)
    r = rng.random

    def add(name, p):
        if r() < p:
            s.add(name)

    if "cardiac_arrest" in s:
        add("anoxic_brain_injury", 0.8)
    if "status_epilepticus" in s:
        s.add(["focal_epilepsy", "epilepsy_unspecified", "generalized_epilepsy"][
            int(rng.choice(3, p=[0.5, 0.35, 0.15]))])
    if "hepatic_encephalopathy" in s:
        add("metabolic_encephalopathy", 0.3)
    if setting == "icu":
        add("altered_mental_status", 0.55)
        add("renal_failure", 0.15)
        if s & set(STRUCTURAL) or "cns_infection" in s:
            add("focal_epilepsy", 0.08)
        if not s & {"metabolic_encephalopathy", "hepatic_encephalopathy"}:
            add("metabolic_encephalopathy", 0.12)
    else:
        if s & set(STRUCTURAL):
            add("focal_epilepsy", 0.15)
        add("renal_failure", 0.07 if age >= 65 else 0.02)
    if age >= 12:
        add("depression", 0.45 if "pnes" in s else 0.10)
        add("bipolar_disorder", 0.02)
    if 12 <= age <= 65 and setting != "icu":
        add("migraine", 0.05)
    add("sleep_disorder", 0.03)
    if "pnes" in s and setting == "emu":
        add("focal_epilepsy", 0.10)
    return sorted(s)


_ASM_CHOICES = {
    "focal": {"levetiracetam": 0.40, "lamotrigine": 0.20, "carbamazepine": 0.10,
              "lacosamide": 0.12, "phenytoin": 0.06, "topiramate": 0.06, "valproate": 0.04,
              "phenobarbital": 0.02},
    "generalized": {"valproate": 0.35, "levetiracetam": 0.35, "lamotrigine": 0.25,
                    "topiramate": 0.05},
    "absence": {"ethosuximide": 0.5, "valproate": 0.3, "lamotrigine": 0.2},
}


def _asms(rng: np.random.Generator, kind: str, age: float, sex: str, n: int) -> list[str]:
    choices = dict(_ASM_CHOICES[kind])
    if sex == "F" and 12 <= age <= 50 and "valproate" in choices:
        choices["valproate"] *= 0.25  # teratogenic: avoided in women of childbearing age
    if age >= 60 and "phenytoin" in choices:
        choices["phenytoin"] *= 2.0
    names = list(choices)
    w = np.array([choices[k] for k in names])
    n = min(n, len(names))
    return [str(x) for x in rng.choice(names, size=n, replace=False, p=w / w.sum())]


# Medicines a diagnosis brings: (any of these diagnoses, ((medicine, chance), ...)). Each medicine
# is one draw of its own, in this order; the order is part of the generator's output
# (tests/test_synth_golden.py).
_COMORBID_MEDS: tuple[tuple[frozenset[str], tuple[tuple[str, float], ...]], ...] = (
    (frozenset({"alzheimer_dementia", "dementia_unspecified"}),
     (("donepezil", 0.6), ("quetiapine", 0.2))),
    (frozenset({"bipolar_disorder"}),
     (("lithium", 0.55), ("valproate", 0.25), ("quetiapine", 0.3))),
    (frozenset({"depression"}), (("sertraline", 0.55), ("amitriptyline", 0.12))),
    (frozenset({"pnes"}), (("clonazepam", 0.2),)),
    (frozenset({"migraine"}),
     (("topiramate", 0.3), ("sumatriptan", 0.45), ("amitriptyline", 0.12))),
    (frozenset({"sleep_disorder"}), (("clonazepam", 0.15),)),
    (frozenset({"tbi", "ischemic_stroke"}), (("baclofen", 0.06),)),
)
# Occasional medicines of any adult, drawn the same way.
_ADULT_MEDS: tuple[tuple[str, float], ...] = (
    ("oxycodone", 0.03), ("lorazepam", 0.03), ("clonazepam", 0.02), ("clozapine", 0.01),
    ("baclofen", 0.01),
)


def _draw_each(r, meds: set[str], options: tuple[tuple[str, float], ...]) -> None:
    """Add each medicine of ``options`` with its chance: one draw ``r()`` per medicine."""
    for med, p in options:
        if r() < p:
            meds.add(med)


def _chronic_meds(rng: np.random.Generator, dx: list[str], age: float, sex: str,
                  setting: str) -> list[str]:
    s, meds = set(dx), set()
    r = rng.random
    epileptic = s & set(EPILEPSY)
    if epileptic and r() > 0.1:  # 10% untreated (new diagnosis)
        kind = ("absence" if "absence_epilepsy" in s else
                "generalized" if s & {"generalized_epilepsy", "jme"} else "focal")
        n = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
        meds.update(_asms(rng, kind, age, sex, n))
    elif "seizure_unspecified" in s and r() < 0.45:
        meds.update(_asms(rng, "focal", age, sex, 1))
    for dx_any, options in _COMORBID_MEDS:
        if s & dx_any:
            _draw_each(r, meds, options)
    if age >= 18:
        _draw_each(r, meds, _ADULT_MEDS)
    return sorted(meds)


def draw_patient(seed: int, site: SiteProfile, index: int) -> Patient:
    """Draw one patient from ``(seed, site, index)`` alone.

    Parameters
    ----------
    seed : int
        Cohort seed.
    site : SiteProfile
        The patient's site.
    index : int
        Patient index (unique within the cohort).

    Returns
    -------
    Patient
    """
    rng = patient_rng(seed, site, index, STREAM_PATIENT)
    setting = SETTINGS[int(rng.choice(3, p=np.asarray(site.setting_p) / sum(site.setting_p)))]
    age = _draw_age(rng, setting, site.child_p)
    sex = "F" if rng.random() < 0.52 else "M"
    dx = _diagnoses(rng, setting, age, sex)
    meds = _chronic_meds(rng, dx, age, sex, setting)
    lesion_side = "left" if rng.random() < 0.5 else "right"
    if age < 14 and rng.random() < 0.35:
        focus = "centrotemporal"
    else:
        focus = "temporal" if rng.random() < 0.75 else "frontal"
    split = "test" if rng.random() < TEST_FRACTION else "train"
    p_n = [0.45, 0.35, 0.20] if setting == "icu" else [0.65, 0.25, 0.10]
    n_sessions = int(rng.choice([1, 2, 3], p=p_n))
    traits = {
        "pdr_offset": float(rng.normal(0.0, 0.45)),  # Hz, individual PDR around the age norm
        "amp": float(np.exp(rng.normal(0.0, 0.18))) * (1.6 if age < 12 else 1.0),
        "exponent": float(rng.uniform(1.4, 2.1)),  # 1/f^exponent aperiodic power
        "pdr_amp": float(rng.uniform(16.0, 32.0)),  # uV RMS of the eyes-closed PDR
        "heart_rate": float(rng.uniform(55.0, 105.0)),  # bpm
    }
    return Patient(seed, site.name, index, age, sex, setting, dx, meds, lesion_side, focus,
                   split, n_sessions, traits)
