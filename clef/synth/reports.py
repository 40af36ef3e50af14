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
import zlib

import numpy as np

from clef.synth.ontology import HELD_OUT, ONTOLOGY
from clef.synth.patients import STREAM_EHR, STREAM_REPORT, patient_rng
from clef.synth.plan import SessionPlan

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


class _Voice:
    """Phrase choices with an author's habits: each author prefers some options."""

    def __init__(self, rng: np.random.Generator, site: str, author: int):
        self.rng, self.key = rng, f"{site}{author}"

    def pick(self, options, slot: str = ""):
        options = list(options)
        if len(options) == 1:
            return options[0]
        pref = zlib.crc32(f"{self.key}|{slot}|{options[0]}".encode()) % len(options)
        if self.rng.random() < 0.6:
            return options[pref]
        return options[int(self.rng.integers(len(options)))]

    def syn(self, concept: str, slot: str = "") -> str:
        c = ONTOLOGY[concept]
        return _display(self.pick([c.label, *c.synonyms], slot or concept))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


def _quant(rate_per_min: float) -> str:
    if rate_per_min < 0.5:
        return "rare"
    if rate_per_min < 2:
        return "occasional"
    if rate_per_min < 6:
        return "frequent"
    return "abundant"


def _person(age: float, sex: str | None) -> str:
    if age < 1:
        months = max(1, round(age * 12))
        return f"{months}-month-old {'girl' if sex == 'F' else 'boy' if sex == 'M' else 'infant'}"
    a = int(age)
    if a < 18:
        noun = "girl" if sex == "F" else "boy" if sex == "M" else "child"
    else:
        noun = "woman" if sex == "F" else "man" if sex == "M" else "patient"
    return f"{a}-year-old {noun}"


_DISPLAY = re.compile(r"\b(pdr|lpds|gpds|pleds|firda|hz|ecg|ekg|emg|ams|sah|ich|sdh|esrd|pnes|jme|"
                      r"hsv|alzheimer's|v waves|k-complexes|k complexes)\b")
_DISPLAY_MAP = {"lpds": "LPDs", "gpds": "GPDs", "pleds": "PLEDs", "hz": "Hz", "alzheimer's":
                "Alzheimer's", "v waves": "V waves", "k-complexes": "K-complexes",
                "k complexes": "K complexes", "ams": "AMS"}


def _display(s: str) -> str:
    """Clinical capitalization of abbreviations inside lowercase synonyms."""
    return _DISPLAY.sub(lambda m: _DISPLAY_MAP.get(m.group(1), m.group(1).upper()), s)


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _mmss(t: float) -> str:
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


def _finding_sentence(v: _Voice, name: str, params: dict, plan: SessionPlan, hedge: bool) -> str:
    """One positive sentence describing a finding (no negation words)."""
    h = v.pick(["possible ", "probable ", "questionable "], "hedge") if hedge else ""
    p = params
    if name == "normal_pdr":
        f = p["frequency_hz"]
        f_rep = round(f * 2) / 2
        return v.pick([
            (f"The background is well organized with a {f_rep:g} Hz {v.syn(name)} that attenuates "
            "with eye opening."),
            f"There is a {v.syn(name)} of {f_rep:g} Hz, reactive to eye opening.",
            (f"A symmetric {f_rep:g} Hz {v.syn(name)} is present posteriorly and blocks with eye "
            "opening."),
        ], "pdr")
    if name == "pdr_slowing":
        f_rep = round(p["frequency_hz"] * 2) / 2
        return v.pick([
            f"There is {v.syn(name)}, at {f_rep:g} Hz, with partial reactivity.",
            f"The background shows {v.syn(name)} to {f_rep:g} Hz.",
            f"{_cap(v.syn(name))} is noted ({f_rep:g} Hz).",
        ], "pdrslow")
    if name == "generalized_slowing":
        q = "continuous" if p.get("continuous") else "intermittent"
        sev = "marked" if p["severity"] > 0.7 else "moderate" if p["severity"] > 0.45 else "mild"
        return v.pick([
            f"There is {q} {sev} {v.syn(name)}.",
            f"{_cap(q)} {v.syn(name)} is present, {sev} in degree.",
            f"The record shows {sev} {q} {v.syn(name)}.",
        ], "gs")
    if name.startswith("focal_slowing"):
        q = "continuous" if p.get("continuous") else "intermittent"
        return v.pick([f"There is {q} {h}{v.syn(name)}.",
                       f"{_cap(h)}{v.syn(name)} is seen, {q}."] if h else
                      [f"There is {q} {v.syn(name)}.", f"{_cap(q)} {v.syn(name)} is seen."], "fs")
    if name.startswith("ied_"):
        q = _quant(p["rate_per_min"])
        syn = v.syn(name)
        if p["morphology"] == "spike" and "sharp" in syn:
            syn = syn.replace("sharp waves", "spikes")
        elif p["morphology"] == "sharp" and "spikes" in syn and "centrotemporal" not in syn:
            syn = syn.replace("spikes", "sharp waves")
        sleep = any(n in ("n2", "n3", "drowsy") for _, _, n in plan.states)
        tail = ", more frequent in sleep" if sleep and v.chance(0.5) else ""
        return v.pick([f"{_cap(q)} {h}{syn} are seen{tail}.",
                       f"There are {q} {h}{syn}{tail}.",
                       f"{_cap(h)}{syn} occur {'rarely' if q == 'rare' else q + 'ly' if q != 'abundant' else 'abundantly'}{tail}."],
                      "ied")
    if name == "gsw_3hz":
        n = p["n_bursts"]
        hv = " Several were provoked by hyperventilation." if plan.hv and v.chance(0.6) else ""
        return v.pick([f"There are {n} bursts of {v.syn(name)} lasting 2 to 15 seconds.{hv}",
                       f"{_cap(v.syn(name))} occurs in bursts ({n} in total).{hv}"], "gsw")
    if name == "generalized_polyspikes":
        return v.pick([f"Brief bursts of {v.syn(name)} are seen.",
                       f"There are occasional {v.syn(name)}."], "psw")
    if name in ("lpds", "gpds", "triphasic_waves"):
        f = p["frequency_hz"]
        where = f" over the {p['side']} hemisphere" if name == "lpds" else ""
        return v.pick([f"There are {v.syn(name)}{where} at about {f:.1f} Hz.",
                       (f"{_cap(v.syn(name))} are present{where}, recurring every "
                       f"{1 / f:.1f} seconds.")], name)
    if name == "firda":
        return v.pick([f"Intermittent {v.syn(name)} is seen.",
                       f"There are brief runs of {v.syn(name)}."], "firda")
    if name == "burst_suppression":
        pct = int(round(100 * p["suppression_ratio"] / 5) * 5)
        return v.pick([(f"The background shows a {v.syn(name)} with suppression about {pct}% of "
                       "the time."),
                       (f"There is {v.syn(name)}; bursts of mixed high-voltage activity alternate "
                       f"with suppression (about {pct}% suppressed).")], "bs")
    if name == "excess_beta":
        return v.pick([f"There is {v.syn(name)}, maximal frontocentrally.",
                       f"{_cap(v.syn(name))} is present diffusely."], "beta")
    if name == "asymmetry":
        return v.pick([(f"There is {h}{v.syn(name)} with lower amplitude over the {p['side']} "
                       "hemisphere."),
                       f"{_cap(h)}{v.syn(name)} is seen over the {p['side']} hemisphere."], "asym")
    if name == "seizure":
        eps = [e for e in plan.episodes if e.concept == "seizure"]
        n = len(eps)
        e = eps[0]
        where = ("generalized" if e.params["region"] == "generalized"
                 else f"{e.params['side']} {e.params['region']}")
        count = "One" if n == 1 else str(n)
        return v.pick([
            (f"{count} {v.syn(name, 'sz') if n == 1 else 'electrographic seizures'} "
            f"{'was' if n == 1 else 'were'} recorded, the first at {_mmss(e.onset)}, beginning "
            f"with rhythmic {e.params['f0']:.0f} Hz activity over the {where} region that evolved "
            f"to {e.params['f1']:.0f} Hz delta over {e.duration:.0f} seconds, followed by "
            "postictal slowing."),
            (f"An {v.syn(name, 'sz2') if n == 1 else 'electrographic seizures'} "
            f"({n} in total) arising from the {where} region, first at {_mmss(e.onset)}, lasting "
            f"{e.duration:.0f} seconds."),
        ], "sz")
    if name == "vertex_waves":
        return f"Drowsiness is marked by {v.syn(name)}."
    if name == "sleep_spindles":
        return v.pick([f"Stage 2 sleep is reached with symmetric {v.syn(name)}.",
                       f"Sleep is characterized by {v.syn(name)}."], "spin")
    if name == "k_complexes":
        return f"{_cap(v.syn(name))} are seen in stage 2 sleep."
    if name == "photic_driving":
        rates = p["rates_hz"]
        return v.pick([(f"Photic stimulation produced a {v.syn(name)} at {min(rates):g} to "
                       f"{max(rates):g} Hz."),
                       f"There is {v.syn(name)} at flash rates of {min(rates):g}-{max(rates):g} Hz."],
                      "photic")
    if name == "hv_response":
        return v.pick([f"Hyperventilation produced {v.syn(name)}, resolving within a minute.",
                       f"There is a prominent {v.syn(name)}."], "hv")
    raise ValueError(name)  # pragma: no cover


_NEGATIVES = {  # group -> (members, sentence options); written when no member is reported
    "epileptiform": (("ied_left_temporal", "ied_right_temporal", "ied_centrotemporal", "ied_frontal",
                      "gsw_3hz", "generalized_polyspikes"),
                     ["No epileptiform discharges were seen.",
                      "There were no epileptiform discharges.",
                      "No definite epileptiform abnormalities are present."]),
    "seizure": (("seizure",), ["No electrographic seizures were recorded.",
                               "No seizures were captured.", "There were no electrographic seizures."]),
    "focal": (("focal_slowing_left_temporal", "focal_slowing_right_temporal",
               "focal_slowing_frontal"), ["No focal slowing is seen.", "There is no focal slowing."]),
    "periodic": (("lpds", "gpds"), ["No periodic discharges are present.",
                                    "There are no lateralized or generalized periodic discharges."]),
}


def write_report(plan: SessionPlan, split: str = "train", *, return_info: bool = False):
    """Neurologist-style report for one session.

    Parameters
    ----------
    plan : SessionPlan
    split : {"train", "test"}
        Training-split reports never name held-out findings.
    return_info : bool
        Also return a dict of the noise applied (omitted, added, swapped concepts).

    Returns
    -------
    str or (str, dict)
    """
    pat, site = plan.patient, plan.site
    rng = patient_rng(pat.seed, site, pat.index, plan.session_index + 1, STREAM_REPORT)
    author = int(rng.integers(site.author_count))
    v = _Voice(rng, site.name, author)
    terse = site.report_style == "terse"
    info = {"omitted": [], "added": [], "swapped": [], "author": author}
    held = set(HELD_OUT) if split == "train" else set()

    # -- which findings the report states --------------------------------------------------
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
            c = cand[int(rng.integers(len(cand)))]
            fake = {"generalized_slowing": {"severity": 0.3, "continuous": False},
                    "excess_beta": {}, "focal_slowing_left_temporal": {"continuous": False,
                                                                       "side": "left"}}.get(
                c, {"rate_per_min": 0.3, "morphology": "sharp", "side": c.split("_")[1]})
            reported[c] = fake
            info["added"].append(c)

    # -- history -------------------------------------------------------------------------------
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
    who = _person(plan.age, pat.sex)
    hist = v.pick([(f"{_cap(who)} with {dx_text or 'no significant past history'}, referred for "
                   f"{v.pick(reason, 'reason')}."),
                   f"{_cap(who)}; {v.pick(reason, 'reason')}."
                   + (f" History of {dx_text}." if dx_text else "")], "hist")
    meds = [m for m in plan.meds if v.chance(0.85)]
    med_text = ", ".join(meds) + "." if meds else v.pick(["None listed.", "None.", "See chart."],
                                                          "nomeds")

    # -- technique -----------------------------------------------------------------------------
    minutes = plan.duration_s / 60
    states = [n for n in ("awake", "drowsy", "n2", "n3", "coma") if any(s[2] == n for s in plan.states)]
    state_txt = {"awake": "wakefulness", "drowsy": "drowsiness", "n2": "stage 2 sleep",
                 "n3": "slow-wave sleep", "coma": "an unresponsive state"}
    st = ", ".join(state_txt[s] for s in states)
    if pat.setting == "icu":
        tech = (f"Continuous video EEG monitoring with 19 scalp electrodes placed according to the "
                f"International 10-20 system; this report covers {minutes:.0f} minutes. "
                f"Recorded during {st}.")
    else:
        kind = "Routine" if pat.setting == "outpatient" else "Long-term video"
        tech = (f"{kind} digital EEG, {minutes:.0f} minutes, 19 electrodes (10-20 system) with "
                f"ECG; reviewed in bipolar and referential montages. Recorded during {st}.")
        procs = []
        if plan.hv:
            procs.append("hyperventilation")
        if plan.photic:
            procs.append("photic stimulation")
        tech += (f" Activation: {' and '.join(procs)}." if procs
                 else " No activation procedures were performed.")

    # -- description ---------------------------------------------------------------------------
    order = ["burst_suppression", "normal_pdr", "pdr_slowing", "excess_beta", "generalized_slowing",
             "focal_slowing_left_temporal", "focal_slowing_right_temporal", "focal_slowing_frontal",
             "asymmetry", "firda", "ied_left_temporal", "ied_right_temporal", "ied_centrotemporal",
             "ied_frontal", "gsw_3hz", "generalized_polyspikes", "lpds", "gpds", "triphasic_waves",
             "seizure", "vertex_waves", "sleep_spindles", "k_complexes", "hv_response",
             "photic_driving"]
    desc = []
    if not any(k in reported for k in ("normal_pdr", "pdr_slowing", "burst_suppression")):
        desc.append(v.pick(["There is no clear posterior dominant rhythm.",
                            "A posterior dominant rhythm is not seen."], "nopdr"))
    if "excess_beta" not in reported and "burst_suppression" not in reported and v.chance(0.5):
        desc.append("Low-voltage frontocentral beta activity is present.")
    hedgeable = {"ied_left_temporal", "ied_right_temporal", "ied_frontal", "asymmetry",
                 "focal_slowing_left_temporal", "focal_slowing_right_temporal",
                 "focal_slowing_frontal"}
    for name in order:
        if name in reported:
            hedge = name in hedgeable and v.chance(REPORT_NOISE["hedge_p"])
            desc.append(_finding_sentence(v, name, reported[name], plan, hedge))
    if plan.hv and "hv_response" not in reported:
        desc.append(v.pick(["Hyperventilation produced no significant change.",
                            ("Hyperventilation was performed with good effort and no significant "
                            "change.")], "hvneg"))
    if plan.photic and "photic_driving" not in reported:
        desc.append("Photic stimulation did not produce a driving response.")
    if not any(n in ("n2", "n3") for n in states) and pat.setting != "icu" and v.chance(0.6):
        desc.append("Sleep was not recorded.")
    arts = [a for a in plan.artifacts if a in ("muscle", "eye_blinks", "electrode_pop", "ecg_artifact")]
    if arts and v.chance(0.5):
        words = {"muscle": "muscle", "eye_blinks": "eye blink", "electrode_pop": "electrode",
                 "ecg_artifact": "ECG"}
        desc.append(f"Intermittent {' and '.join(words[a] for a in arts[:2])} artifact is noted.")
    for group, (members, options) in _NEGATIVES.items():
        if any(m in held and m in plan.findings for m in members) or (
                group == "periodic" and held & set(members)):
            continue  # a hidden held-out finding must not be contradicted
        if not any(m in reported for m in members) and v.chance(0.85):
            if group == "periodic" and pat.setting != "icu":
                continue
            desc.append(v.pick(options, group))

    # -- impression and correlation --------------------------------------------------------
    abnormal = [n for n in order if n in reported and n not in
                ("normal_pdr", "vertex_waves", "sleep_spindles", "k_complexes", "photic_driving",
                 "hv_response")]
    if abnormal:
        items = [v.syn(n, "imp") if n not in ("lpds",) else v.syn(n) for n in abnormal]
        for i, n in enumerate(abnormal):
            if n == "lpds":
                items[i] += f" over the {reported[n].get('side', 'left')} hemisphere"
        if terse:
            imp = "Abnormal EEG: " + "; ".join(items) + "."
        else:
            imp = "Abnormal EEG due to:\n" + "\n".join(f"{i + 1}. {_cap(t)}."
                                                     for i, t in enumerate(items))
    else:
        state_word = " and ".join({"awake": "awake", "drowsy": "drowsy", "n2": "asleep",
                                   "n3": "asleep", "coma": "unresponsive"}[s]
                                  for s in dict.fromkeys(states))
        imp = v.pick([f"Normal {state_word} EEG.", "Normal EEG.",
                      f"This is a normal EEG in the {state_word} state{'s' if len(states) > 1 else ''}."],
                     "normal")
    corr = []
    if any(n.startswith("ied_") or n in ("gsw_3hz", "generalized_polyspikes") for n in abnormal):
        corr.append(v.pick([("The epileptiform discharges indicate an increased epileptogenic "
                            "potential."), ("These findings support a predisposition to epilepsy in "
                            "the appropriate clinical context.")], "corr_ied"))
    if any(n.startswith("focal_slowing") or n == "asymmetry" for n in abnormal):
        corr.append("The focal findings suggest focal cerebral dysfunction, possibly structural.")
    if any(n in ("generalized_slowing", "pdr_slowing", "firda", "triphasic_waves", "gpds")
           for n in abnormal):
        corr.append(v.pick([("The findings indicate a diffuse encephalopathy, nonspecific as to "
                            "etiology."), ("This suggests diffuse cerebral dysfunction; "
                            "toxic-metabolic causes and medication effect should be considered.")],
                           "corr_enc"))
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

    if terse:
        heads = ("INDICATION", "MEDICATIONS", "TECHNICAL", "FINDINGS", "IMPRESSION", "CORRELATION")
        sep = "\n"
    else:
        heads = ("CLINICAL HISTORY", "MEDICATIONS", "TECHNIQUE", "DESCRIPTION OF THE RECORD",
                 "IMPRESSION", "CLINICAL CORRELATION")
        sep = "\n\n"
    body = [hist, med_text, tech, " ".join(desc), imp, " ".join(corr)]
    text = sep.join(f"{h}: {b}" if "\n" not in b else f"{h}:\n{b}" for h, b in zip(heads, body))
    if held:  # last guard: no sentence in a training report may name a held-out finding
        text = "\n".join(" ".join(s for s in re.split(r"(?<=\.)\s+", line) if not _HELD_RE.search(s))
                         for line in text.split("\n"))
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
