"""EEG findings and artifacts: names, the words reports use for them, their EEG signatures, and
the finding groups tasks are built from.

Signatures follow /work/shared/CLINICAL_EEG.md (ACNS 2021 terminology, textbook figures).
"""
from __future__ import annotations

from clef.vocabulary.concepts import Concept


def _f(name, label, synonyms, signature, regions=()):
    return Concept(name, "finding", label, tuple(synonyms), signature, regions=tuple(regions))


def _a(name, label, synonyms, signature):
    return Concept(name, "artifact", label, tuple(synonyms), signature)


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
       "recurring at 4-6 Hz, 100-300 uV"),
    _f("lpds", "lateralized periodic discharges",
       ["lpds", "pleds", "periodic lateralized epileptiform discharges",
        "lateralized periodic sharp waves"],
       "sharp discharges every 0.5-2 s over one hemisphere (temporal-central maximum), 50-200 uV, "
       "for minutes to the whole record"),
    _f("gpds", "generalized periodic discharges",
       ["gpds", "generalized periodic sharp waves", "periodic generalized discharges"],
       "generalized sharp discharges at 0.5-2.5 Hz, 50-200 uV, for minutes to the whole record"),
    _f("triphasic_waves", "triphasic waves",
       ["triphasic morphology", "generalized periodic discharges with triphasic morphology",
        "triphasic complexes"],
       "1.5-2.5 Hz triphasic complexes (small negative, large positive, negative), frontal "
       "predominance with 25-60 ms anterior-posterior lag, 60-200 uV"),
    _f("firda", "frontal intermittent rhythmic delta activity",
       ["firda", "frontally predominant rhythmic delta", "bifrontal rhythmic delta"],
       "bifrontal sinusoidal 2-3 Hz delta in bursts of 2-8 s, 50-150 uV"),
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


FINDING_NAMES: tuple[str, ...] = tuple(c.name for c in FINDINGS)
ARTIFACT_NAMES: tuple[str, ...] = tuple(c.name for c in ARTIFACTS)

# Finding groups (aggregate tasks): members, and the generic words reports use for the group.
EPILEPTIFORM = ("ied_left_temporal", "ied_right_temporal", "ied_centrotemporal", "ied_frontal",
                "gsw_3hz", "generalized_polyspikes")
NORMAL_FINDINGS = ("normal_pdr", "vertex_waves", "sleep_spindles", "k_complexes",
                   "photic_driving", "hv_response")
AGGREGATE_PHRASES: dict[str, tuple[str, ...]] = {
    "any_epileptiform": ("epileptiform discharges", "epileptiform discharge",
                         "epileptiform abnormalities", "epileptiform activity", "spikes",
                         "sharp waves", "spike and wave", "spike-and-wave"),
    "focal_slowing_any": ("focal slowing", "focal polymorphic delta"),
    "abnormal_eeg": ("abnormal eeg", "abnormal study", "abnormal record", "abnormal recording"),
}
