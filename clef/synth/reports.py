"""ACNS-style EEG reports and EHR rows generated from a session plan.

Reports follow ACNS guideline 7 (history, medications, technique, description of the record,
impression, clinical correlation) in each site's voice, with per-author phrasing habits, synonyms,
quantifiers, written-out negatives and hedges. Deliberate noise, documented in ``REPORT_NOISE``:
true findings are sometimes omitted, a finding is sometimes reported that is not there, and
lateralized findings are sometimes given the wrong side. Held-out findings are never named in
training-split reports (neither their label nor any synonym).
"""
from __future__ import annotations

import re

from clef.synth.ontology import HELD_OUT, ONTOLOGY
from clef.synth.patients import STREAM_EHR, STREAM_REPORT, patient_rng
from clef.synth.plan import SessionPlan
from clef.synth.report_phrases import NEGATIVES, Voice, cap, finding_sentence, person
from clef.synth.report_styles import (
    ReportStyle,
    abbreviate,
    electrode_sentence,
    layout,
    reader_style,
    restyle_hedge,
    restyle_negative,
    style_rng,
)

# Documented report noise (see module docstring); tests check reports agree with the oracle up
# to these rates.
REPORT_NOISE = {
    "omission_p": 0.05,  # each true clinical finding left out of the report
    "sleep_omission_p": 0.15,  # vertex waves / spindles / K-complexes left out (often unremarked)
    "false_positive_p": 0.02,  # per report: one finding reported that the session does not have
    "laterality_swap_p": 0.01,  # per lateralized finding: reported on the wrong side
    "hedge_p": 0.15,  # positive mention written with a hedge ("possible ...")
}
EHR_NOISE = {
    "diagnoses_missing_p": 0.03,  # whole diagnosis list unavailable (null)
    "diagnosis_coded_p": 0.9,  # each true diagnosis coded (x0.78 for comorbidities often
    # left uncoded: altered mental status, encephalopathies, depression, sleep, renal, migraine)
    "medications_missing_p": 0.05,  # medication list unavailable (null)
    "medication_recorded_p": 0.95,  # each medication on the list
    "sex_missing_p": 0.02,
}
_MINOR = {"altered_mental_status", "depression", "sleep_disorder", "renal_failure", "migraine",
          "metabolic_encephalopathy", "toxic_encephalopathy", "hepatic_encephalopathy"}
OVERCALLED = ("generalized_slowing", "ied_left_temporal", "ied_right_temporal",
              "focal_slowing_left_temporal", "excess_beta")
_SWAP = {"ied_left_temporal": "ied_right_temporal", "ied_right_temporal": "ied_left_temporal",
         "focal_slowing_left_temporal": "focal_slowing_right_temporal",
         "focal_slowing_right_temporal": "focal_slowing_left_temporal"}
SLEEP = ("vertex_waves", "sleep_spindles", "k_complexes")

_HELD_RE = re.compile(
    r"(?<![\w-])(?:" + "|".join(re.escape(p) for c in HELD_OUT for p in ONTOLOGY[c].phrases)
    + r")(?:e?s)?(?![\w-])", re.IGNORECASE)


def held_out_mentions(text: str) -> list[str]:
    """Held-out concept phrases found in a text (empty for every training-split report)."""
    return [m.group(0) for m in _HELD_RE.finditer(text or "")]


# Order of findings in the description (and of abnormalities in the impression).
ORDER = ("burst_suppression", "normal_pdr", "pdr_slowing", "excess_beta", "generalized_slowing",
         "focal_slowing_left_temporal", "focal_slowing_right_temporal", "focal_slowing_frontal",
         "asymmetry", "firda", "ied_left_temporal", "ied_right_temporal", "ied_centrotemporal",
         "ied_frontal", "gsw_3hz", "generalized_polyspikes", "lpds", "gpds", "triphasic_waves",
         "seizure", "vertex_waves", "sleep_spindles", "k_complexes", "hv_response",
         "photic_driving")
NORMAL_VARIANTS = ("normal_pdr", "vertex_waves", "sleep_spindles", "k_complexes", "photic_driving",
                   "hv_response")
_HEDGEABLE = {"ied_left_temporal", "ied_right_temporal", "ied_frontal", "asymmetry",
              "focal_slowing_left_temporal", "focal_slowing_right_temporal",
              "focal_slowing_frontal"}
_STATE_TEXT = {"awake": "wakefulness", "drowsy": "drowsiness", "n2": "stage 2 sleep",
               "n3": "slow-wave sleep", "coma": "an unresponsive state"}


def _reported_findings(v: Voice, plan: SessionPlan, held: set, info: dict) -> dict[str, dict]:
    """Which findings the report states: held-out ones hidden, noise applied (see REPORT_NOISE)."""
    reported: dict[str, dict] = {}
    for name, params in plan.findings.items():
        if name in held:
            continue
        p_omit = REPORT_NOISE["sleep_omission_p"] if name in SLEEP else REPORT_NOISE["omission_p"]
        if name not in ("normal_pdr", "pdr_slowing", "burst_suppression") and v.chance(p_omit):
            info["omitted"].append(name)
            continue
        if name in _SWAP and v.chance(REPORT_NOISE["laterality_swap_p"]):
            info["swapped"].append(name)
            params = dict(params, side="right" if params.get("side") == "left" else "left")
            name = _SWAP[name]
        reported[name] = params
    if v.chance(REPORT_NOISE["false_positive_p"]):
        cand = [c for c in OVERCALLED if c not in plan.findings and c not in reported]
        if cand and not plan.findings.get("burst_suppression"):
            c = cand[int(v.rng.integers(len(cand)))]
            fake = {"generalized_slowing": {"severity": 0.3, "continuous": False},
                    "excess_beta": {}, "focal_slowing_left_temporal": {"continuous": False,
                                                                       "side": "left"}}.get(
                c, {"rate_per_min": 0.3, "morphology": "sharp", "side": c.split("_")[1]})
            reported[c] = fake
            info["added"].append(c)
    return reported


def _history(v: Voice, plan: SessionPlan) -> str:
    """CLINICAL HISTORY: who, some of the diagnoses, and the reason for the study."""
    pat = plan.patient
    dx = [d for d in pat.diagnoses if v.chance(0.75)]
    dx_text = ", ".join(v.syn(d, "dx") for d in dx[:3]) if dx else ""
    reason = {
        "outpatient": ["evaluation of spells", "episodes of unresponsiveness",
                       "evaluation after a first event", "routine evaluation"],
        "emu": ["characterization of paroxysmal events", "presurgical evaluation",
                "spell classification"],
        "icu": ["altered mental status, rule out nonconvulsive events",
                "monitoring for subclinical events", "unresponsiveness",
                "prognostication after cardiac arrest" if "cardiac_arrest" in pat.diagnoses
                else "fluctuating mental status"],
    }[pat.setting]
    who = person(plan.age, pat.sex)
    return v.pick([(f"{cap(who)} with {dx_text or 'no significant past history'}, referred for "
                    f"{v.pick(reason, 'reason')}."),
                   f"{cap(who)}; {v.pick(reason, 'reason')}."
                   + (f" History of {dx_text}." if dx_text else "")], "hist")


def _medications(v: Voice, plan: SessionPlan) -> str:
    """MEDICATIONS: most of the session's drugs, as the requisition lists them."""
    meds = [m for m in plan.meds if v.chance(0.85)]
    return ", ".join(meds) + "." if meds else v.pick(["None listed.", "None.", "See chart."],
                                                      "nomeds")


def _states(plan: SessionPlan) -> list[str]:
    """States recorded, in clinical order."""
    return [n for n in ("awake", "drowsy", "n2", "n3", "coma")
            if any(s[2] == n for s in plan.states)]


def _technique(plan: SessionPlan) -> str:
    """TECHNIQUE: study type, length, electrodes, states and activation procedures (no draws)."""
    pat = plan.patient
    minutes = plan.duration_s / 60
    st = ", ".join(_STATE_TEXT[s] for s in _states(plan))
    if pat.setting == "icu":
        return (f"Continuous video EEG monitoring with 19 scalp electrodes placed according to "
                f"the International 10-20 system; this report covers {minutes:.0f} minutes. "
                f"Recorded during {st}.")
    kind = "Routine" if pat.setting == "outpatient" else "Long-term video"
    tech = (f"{kind} digital EEG, {minutes:.0f} minutes, 19 electrodes (10-20 system) with "
            f"ECG; reviewed in bipolar and referential montages. Recorded during {st}.")
    procs = []
    if plan.hv:
        procs.append("hyperventilation")
    if plan.photic:
        procs.append("photic stimulation")
    return tech + (f" Activation: {' and '.join(procs)}." if procs
                   else " No activation procedures were performed.")


def _description(v: Voice, plan: SessionPlan, reported: dict, held: set, style: ReportStyle,
                 srng) -> str:
    """DESCRIPTION OF THE RECORD: background, each reported finding, activation, sleep,
    artifacts, then the written-out negatives. The reader's style (drawing from ``srng``, never
    from ``v``) rewrites hedges and negatives and may name the electrodes of a maximum."""
    pat, states = plan.patient, _states(plan)
    desc = []
    if not any(k in reported for k in ("normal_pdr", "pdr_slowing", "burst_suppression")):
        desc.append(v.pick(["There is no clear posterior dominant rhythm.",
                            "A posterior dominant rhythm is not seen."], "nopdr"))
    if "excess_beta" not in reported and "burst_suppression" not in reported and v.chance(0.5):
        desc.append("Low-voltage frontocentral beta activity is present.")
    for name in ORDER:
        if name in reported:
            hedge = name in _HEDGEABLE and v.chance(REPORT_NOISE["hedge_p"])
            sentence = finding_sentence(v, name, reported[name], plan, hedge)
            desc.append(restyle_hedge(sentence, name, style, srng) if hedge else sentence)
            where = electrode_sentence(name, style, srng)
            if where:
                desc.append(where)
    if plan.hv and "hv_response" not in reported:
        desc.append(v.pick(["Hyperventilation produced no significant change.",
                            ("Hyperventilation was performed with good effort and no significant "
                             "change.")], "hvneg"))
    if plan.photic and "photic_driving" not in reported:
        desc.append("Photic stimulation did not produce a driving response.")
    if not any(n in ("n2", "n3") for n in states) and pat.setting != "icu" and v.chance(0.6):
        desc.append("Sleep was not recorded.")
    arts = [a for a in plan.artifacts
            if a in ("muscle", "eye_blinks", "electrode_pop", "ecg_artifact")]
    if arts and v.chance(0.5):
        words = {"muscle": "muscle", "eye_blinks": "eye blink", "electrode_pop": "electrode",
                 "ecg_artifact": "ECG"}
        desc.append(f"Intermittent {' and '.join(words[a] for a in arts[:2])} artifact is noted.")
    for group, (members, options) in NEGATIVES.items():
        if any(m in held and m in plan.findings for m in members) or (
                group == "periodic" and held & set(members)):
            continue  # a hidden held-out finding must not be contradicted
        if not any(m in reported for m in members) and v.chance(0.85):
            if group == "periodic" and pat.setting != "icu":
                continue
            desc.append(restyle_negative(v.pick(options, group), style, srng))
    return " ".join(desc)


def _impression(v: Voice, plan: SessionPlan, reported: dict, terse: bool) -> tuple[str, list]:
    """IMPRESSION: normal, or abnormal with the list of abnormalities; also returns that list."""
    states = _states(plan)
    abnormal = [n for n in ORDER if n in reported and n not in NORMAL_VARIANTS]
    if abnormal:
        items = [v.syn(n, "imp") if n not in ("lpds",) else v.syn(n) for n in abnormal]
        for i, n in enumerate(abnormal):
            if n == "lpds":
                items[i] += f" over the {reported[n].get('side', 'left')} hemisphere"
        if terse:
            return "Abnormal EEG: " + "; ".join(items) + ".", abnormal
        return ("Abnormal EEG due to:\n" + "\n".join(f"{i + 1}. {cap(t)}."
                                                     for i, t in enumerate(items))), abnormal
    state_word = " and ".join({"awake": "awake", "drowsy": "drowsy", "n2": "asleep",
                               "n3": "asleep", "coma": "unresponsive"}[s]
                              for s in dict.fromkeys(states))
    plural = "s" if len(states) > 1 else ""
    return v.pick([f"Normal {state_word} EEG.", "Normal EEG.",
                   f"This is a normal EEG in the {state_word} state{plural}."], "normal"), abnormal


def _correlation(v: Voice, reported: dict, abnormal: list) -> str:
    """CLINICAL CORRELATION: what the abnormalities suggest."""
    corr = []
    if any(n.startswith("ied_") or n in ("gsw_3hz", "generalized_polyspikes") for n in abnormal):
        corr.append(v.pick([("The epileptiform discharges indicate an increased epileptogenic "
                             "potential."), ("These findings support a predisposition to epilepsy "
                                             "in the appropriate clinical context.")], "corr_ied"))
    if any(n.startswith("focal_slowing") or n == "asymmetry" for n in abnormal):
        corr.append("The focal findings suggest focal cerebral dysfunction, possibly structural.")
    if any(n in ("generalized_slowing", "pdr_slowing", "firda", "triphasic_waves", "gpds")
           for n in abnormal):
        corr.append(v.pick([("The findings indicate a diffuse encephalopathy, nonspecific as to "
                             "etiology."), ("This suggests diffuse cerebral dysfunction; "
                                            "toxic-metabolic causes and medication effect should "
                                            "be considered.")], "corr_enc"))
    if "burst_suppression" in abnormal:
        corr.append("This indicates severe diffuse cerebral dysfunction, which may reflect "
                    "anesthetic medication or anoxic injury.")
    if "excess_beta" in abnormal:
        corr.append("Excess beta is most often a medication effect (e.g. benzodiazepines).")
    if not abnormal:
        corr.append(v.pick(["A normal EEG does not exclude a diagnosis of epilepsy.",
                            "Clinical correlation is recommended."], "corr_norm"))
    if "seizure" not in reported and v.chance(0.5):
        corr.append("No seizures were recorded during this study.")
    return " ".join(corr)


def _assemble(sections: list[str], style: ReportStyle, held: set) -> str:
    """Headed sections in the reader's layout, abbreviations introduced; training reports lose
    any held-out sentence."""
    text = abbreviate(layout(sections, style), style)
    if held:  # last guard: no sentence in a training report may name a held-out finding
        text = "\n".join(" ".join(s for s in re.split(r"(?<=\.)\s+", line)
                                  if not _HELD_RE.search(s))
                         for line in text.split("\n"))
    return text


def write_report(plan: SessionPlan, split: str = "train", *, return_info: bool = False):
    """Neurologist-style report for one session.

    Parameters
    ----------
    plan : SessionPlan
    split : {"train", "test"}
        Training-split reports never name held-out findings.
    return_info : bool
        Also return a dict of the noise applied (omitted, added, swapped concepts), the reader
        (``author``) and the reader's reporting style (``style``, see ``report_styles.STYLES``).

    Returns
    -------
    str or (str, dict)
    """
    pat, site = plan.patient, plan.site
    rng = patient_rng(pat.seed, site, pat.index, plan.session_index + 1, STREAM_REPORT)
    author = int(rng.integers(site.author_count))
    v = Voice(rng, site.name, author)
    style = reader_style(site.name, author)
    srng = style_rng(plan)  # style choices: their own stream, so the draws of v are unchanged
    info = {"omitted": [], "added": [], "swapped": [], "author": author, "style": style.name}
    held = set(HELD_OUT) if split == "train" else set()
    # the sections draw from the report stream in this order
    reported = _reported_findings(v, plan, held, info)
    history = _history(v, plan)
    meds = _medications(v, plan)
    technique = _technique(plan)
    description = _description(v, plan, reported, held, style, srng)
    impression, abnormal = _impression(v, plan, reported, style.terse)
    correlation = _correlation(v, reported, abnormal)
    text = _assemble([history, meds, technique, description, impression, correlation], style, held)
    return (text, info) if return_info else text


def ehr_record(plan: SessionPlan) -> dict:
    """EHR fields with realistic missingness: diagnoses (ICD-10 codes and names), medications,
    sex.

    Returns
    -------
    dict
        ``diagnoses`` (list of codes or None), ``diagnosis_names``, ``medications`` (list or None),
        ``sex`` ("F"/"M"/None).
    """
    pat, site = plan.patient, plan.site
    rng = patient_rng(pat.seed, site, pat.index, plan.session_index + 1, STREAM_EHR)
    if rng.random() < EHR_NOISE["diagnoses_missing_p"]:
        codes, names = None, None
    else:
        codes, names = [], []
        for d in pat.diagnoses:
            c = ONTOLOGY[d]
            p = EHR_NOISE["diagnosis_coded_p"] * (0.78 if d in _MINOR else 1.0)
            if rng.random() < p:
                code = c.icd10[0] if len(c.icd10) == 1 or rng.random() < 0.7 else c.icd10[1]
                codes.append(code)
                names.append(c.label)
    meds = None
    if rng.random() >= EHR_NOISE["medications_missing_p"]:
        meds = [m for m in plan.meds if rng.random() < EHR_NOISE["medication_recorded_p"]]
    sex = None if rng.random() < EHR_NOISE["sex_missing_p"] else pat.sex
    return {"diagnoses": codes, "diagnosis_names": names, "medications": meds, "sex": sex}
