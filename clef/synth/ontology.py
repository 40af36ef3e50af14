"""The concept ontology of the synthetic clinical EEG cohort.

Every concept has a name (snake_case, stable), a category, the synonyms reports use, its EEG
signature (what the generator puts in the signal), ICD-10 codes for phenotypes and a ``held_out``
flag. Held-out findings never appear by name or synonym in training-split reports, so a model can be
asked about them zero-shot.

Categories: ``finding`` (clinical EEG findings), ``artifact`` (distractors, not clinical),
``phenotype`` (EHR diagnoses, ICD-10), ``medication`` (lowercase generic names),
``demographic`` (age, sex, setting).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Concept:
    """One concept of the synthetic ontology.

    Attributes
    ----------
    name : str
        Stable snake_case identifier (also the task name for single-concept tasks).
    category : str
        "finding", "artifact", "phenotype", "medication" or "demographic".
    label : str
        Human-readable name, as a neurologist would write it.
    synonyms : tuple of str
        Phrases reports use for it (lowercase); the label is always one of them.
    signature : str
        EEG signature: topography, morphology, frequency, prevalence and duration in the signal.
        For phenotypes and medications: the known EEG effect ("none known" where medicine knows none).
    icd10 : tuple of str
        ICD-10-CM codes (phenotypes only).
    held_out : bool
        Never named in training-split reports.
    drug_class : str
        Medication class ("benzodiazepine", "antiseizure", ...); empty for other categories.
    """

    name: str
    category: str
    label: str
    synonyms: tuple[str, ...] = ()
    signature: str = ""
    icd10: tuple[str, ...] = ()
    held_out: bool = False
    drug_class: str = ""
    regions: tuple[str, ...] = field(default=())

    @property
    def phrases(self) -> tuple[str, ...]:
        """Label plus synonyms, lowercase, longest first (for text matching)."""
        out = {self.label.lower(), *(s.lower() for s in self.synonyms)}
        return tuple(sorted(out, key=lambda s: (-len(s), s)))


def _f(name, label, synonyms, signature, held_out=False, regions=()):
    return Concept(name, "finding", label, tuple(synonyms), signature, held_out=held_out,
                   regions=tuple(regions))


def _a(name, label, synonyms, signature):
    return Concept(name, "artifact", label, tuple(synonyms), signature)


def _p(name, label, icd10, synonyms, signature="often no EEG correlate"):
    return Concept(name, "phenotype", label, tuple(synonyms), signature, icd10=tuple(icd10))


def _m(name, drug_class, signature="none known"):
    return Concept(name, "medication", name, (), signature, drug_class=drug_class)


def _d(name, label, signature):
    return Concept(name, "demographic", label, (), signature)


FINDINGS: tuple[Concept, ...] = (
    _f("normal_pdr", "normal posterior dominant rhythm",
       ["well-formed alpha rhythm", "normal alpha rhythm", "age-appropriate posterior rhythm",
        "reactive posterior dominant rhythm"],
       "O1/O2/P3/P4/Pz narrowband rhythm at the age-dependent frequency (adults 8.5-11 Hz; 4 Hz at "
       "4 months, 6 Hz at 1 y, 8 Hz by 3 y), 20-60 uV (children higher), eyes closed, attenuates to "
       "~25% with eye opening, waxes and wanes; right slightly higher"),
    _f("pdr_slowing", "slowing of the posterior dominant rhythm",
       ["slow posterior dominant rhythm", "pdr slowing", "slow alpha rhythm",
        "posterior background slowing"],
       "posterior rhythm 1-3 Hz below the age norm (adults 5.5-7.9 Hz); continuous while awake"),
    _f("generalized_slowing", "generalized slowing",
       ["diffuse slowing", "diffuse theta and delta slowing", "generalized background slowing",
        "diffuse polymorphic slowing"],
       "diffuse theta (4-7 Hz) and/or polymorphic delta (<4 Hz), 20-60 uV, frontal emphasis, "
       "continuous or intermittent (minutes)"),
    _f("focal_slowing_left_temporal", "left temporal slowing",
       ["focal slowing over the left temporal region", "left temporal polymorphic delta",
        "left temporal focal slowing"],
       "polymorphic delta 1-3 Hz at F7/T7/P7, 25-60 uV, continuous or intermittent",
       regions=["left_temporal"]),
    _f("focal_slowing_right_temporal", "right temporal slowing",
       ["focal slowing over the right temporal region", "right temporal polymorphic delta",
        "right temporal focal slowing"],
       "polymorphic delta 1-3 Hz at F8/T8/P8, 25-60 uV, continuous or intermittent",
       regions=["right_temporal"]),
    _f("focal_slowing_frontal", "frontal slowing",
       ["focal frontal slowing", "frontal polymorphic delta", "slowing over the frontal region"],
       "polymorphic delta 1-3 Hz at F3/F4/Fz (one side emphasized), 25-60 uV"),
    _f("ied_left_temporal", "left temporal epileptiform discharges",
       ["left temporal sharp waves", "left temporal spikes", "left temporal spike and wave",
        "epileptiform discharges over the left temporal region"],
       "surface-negative spikes (20-70 ms) or sharp waves (70-200 ms) with after-going slow wave, "
       "maximum F7/T7, 60-200 uV, 0.3-10 per minute, more in drowsiness and sleep",
       regions=["left_temporal"]),
    _f("ied_right_temporal", "right temporal epileptiform discharges",
       ["right temporal sharp waves", "right temporal spikes", "right temporal spike and wave",
        "epileptiform discharges over the right temporal region"],
       "spikes or sharp waves maximum F8/T8, 60-200 uV, 0.3-10 per minute",
       regions=["right_temporal"]),
    _f("ied_centrotemporal", "centrotemporal spikes",
       ["rolandic spikes", "centrotemporal sharp waves", "benign epileptiform discharges of childhood"],
       "high-amplitude (100-250 uV) spikes at C3/T7 or C4/T8, children, markedly activated by sleep",
       regions=["left_temporal", "right_temporal"]),
    _f("ied_frontal", "frontal epileptiform discharges",
       ["frontal sharp waves", "frontal spikes", "epileptiform discharges over the frontal region"],
       "spikes or sharp waves at F3/Fz/F4 (one side emphasized), 60-200 uV"),
    _f("gsw_3hz", "generalized 3 Hz spike-and-wave",
       ["3 hz spike and wave", "generalized spike-and-wave discharges", "3 per second spike and wave",
        "generalized spike and wave complexes"],
       "generalized bursts of 2.5-3.5 Hz spike-and-wave, frontal maximum, 150-400 uV, 2-20 s, "
       "provoked by hyperventilation"),
    _f("generalized_polyspikes", "generalized polyspikes",
       ["polyspike and wave", "generalized polyspike-and-wave discharges", "polyspike discharges",
        "photoparoxysmal response"],
       "generalized brief bursts (0.5-3 s) of 3-6 spikes at ~16 Hz followed by slow waves, "
       "recurring at 4-6 Hz, 100-300 uV", held_out=True),
    _f("lpds", "lateralized periodic discharges",
       ["lpds", "pleds", "periodic lateralized epileptiform discharges",
        "lateralized periodic sharp waves"],
       "sharp discharges every 0.5-2 s over one hemisphere (temporal-central maximum), 50-200 uV, "
       "for minutes to the whole record", held_out=True),
    _f("gpds", "generalized periodic discharges",
       ["gpds", "generalized periodic sharp waves", "periodic generalized discharges"],
       "generalized sharp discharges at 0.5-2.5 Hz, 50-200 uV, for minutes to the whole record"),
    _f("triphasic_waves", "triphasic waves",
       ["triphasic morphology", "generalized periodic discharges with triphasic morphology",
        "triphasic complexes"],
       "1.5-2.5 Hz triphasic complexes (small negative, large positive, negative), frontal "
       "predominance with 25-60 ms anterior-posterior lag, 60-200 uV", held_out=True),
    _f("firda", "frontal intermittent rhythmic delta activity",
       ["firda", "frontally predominant rhythmic delta", "bifrontal rhythmic delta"],
       "bifrontal sinusoidal 2-3 Hz delta in bursts of 2-8 s, 50-150 uV", held_out=True),
    _f("burst_suppression", "burst suppression",
       ["burst-suppression pattern", "burst suppression pattern", "bursts alternating with suppression"],
       "bursts 0.5-10 s of mixed 60-250 uV activity alternating with suppression < 10 uV for "
       "50-95% of the time"),
    _f("excess_beta", "excess beta activity",
       ["excessive beta", "diffuse beta activity", "prominent fast activity", "increased beta"],
       "frontocentral 15-25 Hz activity, 10-25 uV, continuous"),
    _f("asymmetry", "hemispheric asymmetry",
       ["focal attenuation", "hemispheric attenuation", "voltage asymmetry",
        "attenuation of faster frequencies"],
       "one hemisphere at 40-65% amplitude (fast activity reduced most), continuous"),
    _f("seizure", "electrographic seizure",
       ["seizure", "ictal discharge", "electrographic seizures", "evolving rhythmic discharge"],
       "focal 5-7 Hz rhythmic discharge >= 10 s (20-120 s) evolving in frequency (slowing to "
       "2-3 Hz), amplitude and spread, followed by post-ictal slowing and attenuation"),
    _f("vertex_waves", "vertex waves",
       ["vertex sharp transients", "v waves"],
       "sharp negative transients 100-200 ms at Cz, 50-150 uV, drowsiness and N1-N2 sleep"),
    _f("sleep_spindles", "sleep spindles",
       ["spindles", "sigma activity", "spindle activity"],
       "11-16 Hz (mostly 12-14) waxing-waning bursts 0.5-2 s at C3/Cz/C4, 20-50 uV, 2-7 per minute "
       "of N2 sleep"),
    _f("k_complexes", "k-complexes",
       ["k complexes"],
       "biphasic vertex transients > 0.5 s, 75-200 uV, 0.5-3 per minute of N2 sleep"),
    _f("photic_driving", "photic driving",
       ["photic driving response", "driving response to photic stimulation",
        "photic following"],
       "occipital rhythm at the flash rate (and first harmonic) during photic stimulation steps "
       "(1-30 Hz), 8-30 uV"),
    _f("hv_response", "hyperventilation response",
       ["build-up with hyperventilation", "slowing with hyperventilation",
        "hyperventilation-induced slowing"],
       "generalized frontally predominant rhythmic delta 1.5-3 Hz building up during the 3 min of "
       "hyperventilation (40-150 uV), resolving within 60 s"),
)

ARTIFACTS: tuple[Concept, ...] = (
    _a("eye_blinks", "eye blink artifact", ["blink artifact", "eye blinks"],
       "Fp1/Fp2 positive deflections 100-200 uV, 200-400 ms, in phase, decaying to F3/F4/Fz"),
    _a("eye_movements", "lateral eye movement artifact",
       ["eye movement artifact", "slow roving eye movements"],
       "F7 vs F8 opposite-polarity steps of 40-100 uV (lateral); slow 0.2-0.5 Hz roving in drowsiness"),
    _a("muscle", "muscle artifact", ["myogenic artifact", "emg artifact"],
       "bursts 1-10 s of broadband 20-70 Hz activity, 10-60 uV, temporal and frontal channels"),
    _a("electrode_pop", "electrode pop", ["electrode artifact", "electrode pops"],
       "single-channel step of 100-500 uV with exponential decay (tau 0.1-0.5 s)"),
    _a("line_noise", "line noise", ["60 hz artifact", "50 hz artifact", "ac artifact"],
       "sinusoid at the site's line frequency (50/60 Hz), 10-60 uV on 1-3 high-impedance channels"),
    _a("ecg_artifact", "ecg artifact", ["ekg artifact", "cardiac artifact"],
       "sharp QRS-like transients locked to the heart rate (55-110 bpm), 5-25 uV, left temporal and "
       "posterior emphasis"),
)

PHENOTYPES: tuple[Concept, ...] = (
    _p("focal_epilepsy", "focal epilepsy", ["G40.109", "G40.209"],
       ["localization-related epilepsy", "temporal lobe epilepsy", "partial epilepsy"],
       "focal IEDs in about a third to half of routine studies; focal slowing sometimes"),
    _p("generalized_epilepsy", "generalized epilepsy", ["G40.309"],
       ["idiopathic generalized epilepsy", "genetic generalized epilepsy"],
       "generalized spike-and-wave or polyspikes in some studies"),
    _p("absence_epilepsy", "absence epilepsy", ["G40.A09"],
       ["childhood absence epilepsy", "absence seizures"],
       "3 Hz spike-and-wave, provoked by hyperventilation"),
    _p("jme", "juvenile myoclonic epilepsy", ["G40.B09"], ["jme"],
       "generalized polyspike-and-wave, photoparoxysmal response"),
    _p("epilepsy_unspecified", "epilepsy, unspecified", ["G40.909"], ["seizure disorder"],
       "epileptiform discharges in a minority"),
    _p("status_epilepticus", "status epilepticus", ["G40.901"], ["refractory status"],
       "electrographic seizures, LPDs/GPDs, burst suppression under anesthesia"),
    _p("seizure_unspecified", "seizure, unspecified", ["R56.9"], ["spells", "convulsion"],
       "usually normal EEG"),
    _p("alzheimer_dementia", "Alzheimer disease", ["G30.9"], ["alzheimer's disease"],
       "PDR slowing, generalized slowing, FIRDA sometimes"),
    _p("dementia_unspecified", "dementia", ["F03.90"], ["cognitive decline", "major neurocognitive disorder"],
       "PDR slowing, generalized slowing"),
    _p("ischemic_stroke", "ischemic stroke", ["I63.9"], ["cerebral infarction", "stroke"],
       "focal slowing and attenuation over the lesion; LPDs acutely"),
    _p("intracerebral_hemorrhage", "intracerebral hemorrhage", ["I61.9"], ["ich"],
       "focal slowing, asymmetry, LPDs, seizures"),
    _p("subarachnoid_hemorrhage", "subarachnoid hemorrhage", ["I60.9"], ["sah"],
       "generalized slowing, focal slowing, seizures"),
    _p("subdural_hematoma", "subdural hematoma", ["I62.00", "S06.5X0A"], ["sdh"],
       "ipsilateral attenuation and focal slowing"),
    _p("tbi", "traumatic brain injury", ["S06.9X0A"], ["head injury"],
       "focal or generalized slowing; seizures acutely"),
    _p("metabolic_encephalopathy", "metabolic encephalopathy", ["G93.41"],
       ["toxic-metabolic encephalopathy", "septic encephalopathy"],
       "generalized slowing, FIRDA, triphasic waves"),
    _p("hepatic_encephalopathy", "hepatic encephalopathy", ["K76.82"], ["liver failure"],
       "generalized slowing, triphasic waves"),
    _p("toxic_encephalopathy", "toxic encephalopathy", ["G92.8"], ["drug toxicity"],
       "generalized slowing, GPDs, excess beta (sedatives)"),
    _p("anoxic_brain_injury", "anoxic brain injury", ["G93.1"], ["hypoxic-ischemic encephalopathy"],
       "burst suppression, GPDs, suppression, generalized slowing"),
    _p("cardiac_arrest", "cardiac arrest", ["I46.9"], ["post-arrest"],
       "burst suppression or GPDs after anoxic injury"),
    _p("brain_tumor", "malignant brain tumor", ["C71.9"], ["glioma", "brain neoplasm"],
       "continuous focal polymorphic slowing; IEDs; LPDs"),
    _p("cns_infection", "encephalitis", ["G04.90", "G00.9"], ["meningitis", "hsv encephalitis"],
       "generalized slowing; temporal LPDs and seizures in HSV"),
    _p("syncope", "syncope", ["R55"], ["fainting"], "no EEG correlate interictally"),
    _p("migraine", "migraine", ["G43.909"], ["headache"], "no reliable EEG correlate"),
    _p("pnes", "psychogenic non-epileptic seizures", ["F44.5"],
       ["functional seizures", "non-epileptic events", "pnes"], "normal EEG during events"),
    _p("altered_mental_status", "altered mental status", ["R41.82"], ["confusion", "ams"],
       "generalized slowing often"),
    _p("sleep_disorder", "sleep disorder", ["G47.9"], ["insomnia"], "none on routine EEG"),
    _p("renal_failure", "chronic kidney disease", ["N18.6"], ["renal failure", "esrd"],
       "triphasic waves in uremia and with cefepime"),
    _p("bipolar_disorder", "bipolar disorder", ["F31.9"], ["bipolar"], "none (lithium effects)"),
    _p("depression", "major depressive disorder", ["F32.9"], ["depression"], "none"),
)

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

DEMOGRAPHICS: tuple[Concept, ...] = (
    _d("female", "female sex", "none"),
    _d("age_child", "child (< 18 y)", "slower PDR, higher amplitudes, more HV response"),
    _d("age_elderly", "older adult (>= 65 y)", "slightly slower PDR, more slowing"),
    _d("setting_outpatient", "routine outpatient EEG", "awake/drowsy, HV and photic"),
    _d("setting_emu", "epilepsy monitoring unit", "more sleep"),
    _d("setting_icu", "ICU continuous EEG", "encephalopathic backgrounds"),
)

ONTOLOGY: dict[str, Concept] = {
    c.name: c for c in (*FINDINGS, *ARTIFACTS, *PHENOTYPES, *MEDICATIONS, *DEMOGRAPHICS)
}
FINDING_NAMES: tuple[str, ...] = tuple(c.name for c in FINDINGS)
ARTIFACT_NAMES: tuple[str, ...] = tuple(c.name for c in ARTIFACTS)
PHENOTYPE_NAMES: tuple[str, ...] = tuple(c.name for c in PHENOTYPES)
MEDICATION_NAMES: tuple[str, ...] = tuple(c.name for c in MEDICATIONS)
HELD_OUT: tuple[str, ...] = tuple(c.name for c in FINDINGS if c.held_out)
ICD10_NAMES: dict[str, str] = {code: c.label for c in PHENOTYPES for code in c.icd10}


def concepts(category: str | None = None) -> list[Concept]:
    """List ontology concepts, optionally of one category.

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
