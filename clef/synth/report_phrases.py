"""Phrasing for synthetic EEG reports: an author's voice (phrase preferences), quantifiers,
clinical capitalization, and one sentence writer per finding (a dispatch table).

Every choice draws from the report stream through :class:`Voice`; the order of draws inside a
sentence writer is part of the generator's output (tests/test_synth_golden.py).
"""
from __future__ import annotations

import re
import zlib
from collections.abc import Callable

import numpy as np

from clef.synth.ontology import ONTOLOGY
from clef.synth.plan import SessionPlan


class Voice:
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
        return display(self.pick([c.label, *c.synonyms], slot or concept))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


def quant(rate_per_min: float) -> str:
    """Quantifier for a rate of discharges per minute (rare ... abundant)."""
    if rate_per_min < 0.5:
        return "rare"
    if rate_per_min < 2:
        return "occasional"
    if rate_per_min < 6:
        return "frequent"
    return "abundant"


def person(age: float, sex: str | None) -> str:
    """"34-year-old woman", "8-month-old infant", ..."""
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


def display(s: str) -> str:
    """Clinical capitalization of abbreviations inside lowercase synonyms."""
    return _DISPLAY.sub(lambda m: _DISPLAY_MAP.get(m.group(1), m.group(1).upper()), s)


def cap(s: str) -> str:
    """Capitalize the first letter only."""
    return s[:1].upper() + s[1:]


def mmss(t: float) -> str:
    """Seconds as mm:ss."""
    return f"{int(t // 60):02d}:{int(t % 60):02d}"


def _reported_hz(p: dict) -> float:
    """A rhythm's frequency as a reader reports it: to the nearest 0.5 Hz."""
    return round(p["frequency_hz"] * 2) / 2


def _course(p: dict) -> str:
    """How slowing runs in time: "continuous" or "intermittent"."""
    return "continuous" if p.get("continuous") else "intermittent"


# -- one sentence writer per finding: (voice, name, params, plan, hedge prefix) -> sentence -------
def _s_normal_pdr(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    f_rep = _reported_hz(p)
    return v.pick([
        (f"The background is well organized with a {f_rep:g} Hz {v.syn(name)} that attenuates "
         "with eye opening."),
        f"There is a {v.syn(name)} of {f_rep:g} Hz, reactive to eye opening.",
        (f"A symmetric {f_rep:g} Hz {v.syn(name)} is present posteriorly and blocks with eye "
         "opening."),
    ], "pdr")


def _s_pdr_slowing(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    f_rep = _reported_hz(p)
    return v.pick([f"There is {v.syn(name)}, at {f_rep:g} Hz, with partial reactivity.",
                   f"The background shows {v.syn(name)} to {f_rep:g} Hz.",
                   f"{cap(v.syn(name))} is noted ({f_rep:g} Hz)."], "pdrslow")


def _s_generalized_slowing(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    q = _course(p)
    sev = "marked" if p["severity"] > 0.7 else "moderate" if p["severity"] > 0.45 else "mild"
    return v.pick([f"There is {q} {sev} {v.syn(name)}.",
                   f"{cap(q)} {v.syn(name)} is present, {sev} in degree.",
                   f"The record shows {sev} {q} {v.syn(name)}."], "gs")


def _s_focal_slowing(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    q = _course(p)
    return v.pick([f"There is {q} {h}{v.syn(name)}.",
                   f"{cap(h + v.syn(name))} is seen, {q}."] if h else
                  [f"There is {q} {v.syn(name)}.", f"{cap(q)} {v.syn(name)} is seen."], "fs")


def _s_ied(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    q = quant(p["rate_per_min"])
    syn = v.syn(name)
    if p["morphology"] == "spike" and "sharp" in syn:
        syn = syn.replace("sharp waves", "spikes")
    elif p["morphology"] == "sharp" and "spikes" in syn and "centrotemporal" not in syn:
        syn = syn.replace("spikes", "sharp waves")
    sleep = any(n in ("n2", "n3", "drowsy") for _, _, n in plan.states)
    tail = ", more frequent in sleep" if sleep and v.chance(0.5) else ""
    adverb = "rarely" if q == "rare" else q + "ly" if q != "abundant" else "abundantly"
    return v.pick([f"{cap(q)} {h}{syn} are seen{tail}.",
                   f"There are {q} {h}{syn}{tail}.",
                   f"{cap(h + syn)} occur {adverb}{tail}."], "ied")


def _s_gsw(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    n = p["n_bursts"]
    hv = " Several were provoked by hyperventilation." if plan.hv and v.chance(0.6) else ""
    return v.pick([f"There are {n} bursts of {v.syn(name)} lasting 2 to 15 seconds.{hv}",
                   f"{cap(v.syn(name))} occurs in bursts ({n} in total).{hv}"], "gsw")


def _s_polyspikes(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([f"Brief bursts of {v.syn(name)} are seen.",
                   f"There are occasional {v.syn(name)}."], "psw")


def _s_periodic(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    f = p["frequency_hz"]
    where = f" over the {p['side']} hemisphere" if name == "lpds" else ""
    return v.pick([f"There are {v.syn(name)}{where} at about {f:.1f} Hz.",
                   (f"{cap(v.syn(name))} are present{where}, recurring every "
                    f"{1 / f:.1f} seconds.")], name)


def _s_firda(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([f"Intermittent {v.syn(name)} is seen.",
                   f"There are brief runs of {v.syn(name)}."], "firda")


def _s_burst_suppression(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    pct = int(round(100 * p["suppression_ratio"] / 5) * 5)
    return v.pick([(f"The background shows a {v.syn(name)} with suppression about {pct}% of "
                    "the time."),
                   (f"There is {v.syn(name)}; bursts of mixed high-voltage activity alternate "
                    f"with suppression (about {pct}% suppressed).")], "bs")


def _s_excess_beta(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([f"There is {v.syn(name)}, maximal frontocentrally.",
                   f"{cap(v.syn(name))} is present diffusely."], "beta")


def _s_asymmetry(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([(f"There is {h}{v.syn(name)} with lower amplitude over the {p['side']} "
                    "hemisphere."),
                   f"{cap(h + v.syn(name))} is seen over the {p['side']} hemisphere."], "asym")


def _s_seizure(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    eps = [e for e in plan.episodes if e.concept == "seizure"]
    n = len(eps)
    e = eps[0]
    where = ("generalized" if e.params["region"] == "generalized"
             else f"{e.params['side']} {e.params['region']}")
    count = "One" if n == 1 else str(n)
    return v.pick([
        (f"{count} {v.syn(name, 'sz') if n == 1 else 'electrographic seizures'} "
         f"{'was' if n == 1 else 'were'} recorded, the first at {mmss(e.onset)}, beginning "
         f"with rhythmic {e.params['f0']:.0f} Hz activity over the {where} region that evolved "
         f"to {e.params['f1']:.0f} Hz delta over {e.duration:.0f} seconds, followed by "
         "postictal slowing."),
        (f"An {v.syn(name, 'sz2') if n == 1 else 'electrographic seizures'} "
         f"({n} in total) arising from the {where} region, first at {mmss(e.onset)}, lasting "
         f"{e.duration:.0f} seconds."),
    ], "sz")


def _s_vertex_waves(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return f"Drowsiness is marked by {v.syn(name)}."


def _s_spindles(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([f"Stage 2 sleep is reached with symmetric {v.syn(name)}.",
                   f"Sleep is characterized by {v.syn(name)}."], "spin")


def _s_k_complexes(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return f"{cap(v.syn(name))} are seen in stage 2 sleep."


def _s_photic(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    rates = p["rates_hz"]
    return v.pick([(f"Photic stimulation produced a {v.syn(name)} at {min(rates):g} to "
                    f"{max(rates):g} Hz."),
                   f"There is {v.syn(name)} at flash rates of {min(rates):g}-{max(rates):g} Hz."],
                  "photic")


def _s_hv(v: Voice, name: str, p: dict, plan: SessionPlan, h: str) -> str:
    return v.pick([f"Hyperventilation produced {v.syn(name)}, resolving within a minute.",
                   f"There is a prominent {v.syn(name)}."], "hv")


SentenceWriter = Callable[[Voice, str, dict, SessionPlan, str], str]
SENTENCES: dict[str, SentenceWriter] = {
    "normal_pdr": _s_normal_pdr, "pdr_slowing": _s_pdr_slowing,
    "generalized_slowing": _s_generalized_slowing,
    "focal_slowing_left_temporal": _s_focal_slowing, "focal_slowing_right_temporal": _s_focal_slowing,
    "focal_slowing_frontal": _s_focal_slowing,
    "ied_left_temporal": _s_ied, "ied_right_temporal": _s_ied, "ied_centrotemporal": _s_ied,
    "ied_frontal": _s_ied, "gsw_3hz": _s_gsw, "generalized_polyspikes": _s_polyspikes,
    "lpds": _s_periodic, "gpds": _s_periodic, "triphasic_waves": _s_periodic, "firda": _s_firda,
    "burst_suppression": _s_burst_suppression, "excess_beta": _s_excess_beta,
    "asymmetry": _s_asymmetry, "seizure": _s_seizure, "vertex_waves": _s_vertex_waves,
    "sleep_spindles": _s_spindles, "k_complexes": _s_k_complexes, "photic_driving": _s_photic,
    "hv_response": _s_hv,
}


def finding_sentence(v: Voice, name: str, params: dict, plan: SessionPlan, hedge: bool) -> str:
    """One positive sentence describing a finding (no negation words).

    Parameters
    ----------
    v : Voice
        The report's voice (draws from the report stream).
    name : str
        Finding concept (a key of ``SENTENCES``).
    params : dict
        The finding's session-level parameters (frequency, side, rate, ...).
    plan : SessionPlan
    hedge : bool
        Prefix the finding with a hedge ("possible", ...); only some writers use it.

    Returns
    -------
    str
    """
    h = v.pick(["possible ", "probable ", "questionable "], "hedge") if hedge else ""
    if name not in SENTENCES:
        raise ValueError(f"no sentence writer for finding {name!r}; known: {sorted(SENTENCES)}")
    return SENTENCES[name](v, name, params, plan, h)


NEGATIVES = {  # group -> (members, sentence options); written when no member is reported
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
