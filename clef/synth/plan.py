"""Session plans: everything latent about one session, drawn from ``(seed, session_id)`` alone.

A plan holds the session's medications, state timeline (awake / drowsy / N2 / N3 / coma, eyes
open, hyperventilation, photic stimulation), its true findings with their time intervals
(``episodes``) and every transient to render (``events``). The signal, the report and the oracle
are all derived from the plan, so they agree by construction.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from clef.synth.ontology import ONTOLOGY
from clef.synth.patients import (
    EPILEPSY,
    STREAM_PLAN,
    STRUCTURAL,
    Patient,
    draw_patient,
    normal_pdr_hz,
    patient_rng,
)
from clef.synth.sites import SiteProfile, get_site

DEFAULT_DURATION_S = 1200  # 20 minutes: session ids without a "-D<seconds>" suffix
_ID_RE = re.compile(r"^([A-Z])-P(\d{6})-S(\d)(?:-D(\d+))?$")
PHOTIC_RATES = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 30)  # Hz, flash steps
BENZOS = ("lorazepam", "clonazepam", "midazolam")
ASMS = tuple(c.name for c in ONTOLOGY.values() if c.drug_class == "antiseizure")
DEMENTIA = ("alzheimer_dementia", "dementia_unspecified")
ENCEPHALOPATHY = ("metabolic_encephalopathy", "hepatic_encephalopathy", "toxic_encephalopathy")


def make_session_id(site: str, patient_index: int, session_index: int,
                    duration_s: int = DEFAULT_DURATION_S) -> str:
    """Session id encoding everything needed to regenerate it (with the cohort seed)."""
    sid = f"{site}-P{int(patient_index):06d}-S{int(session_index)}"
    return sid if int(duration_s) == DEFAULT_DURATION_S else f"{sid}-D{int(duration_s)}"


def parse_session_id(session_id: str) -> tuple[str, int, int, int]:
    """Split a synthetic session id into (site, patient_index, session_index, duration_s)."""
    m = _ID_RE.match(str(session_id))
    if not m:
        raise ValueError(f"session_id={session_id!r} is not a synthetic id like 'A-P000123-S0' "
                         "(optionally '-D<seconds>'); pass an id from a synthetic cohort")
    site, p, s, d = m.groups()
    return site, int(p), int(s), int(d) if d else DEFAULT_DURATION_S


@dataclass
class Episode:
    """A time interval where a concept is true (finding, artifact, state or procedure)."""

    concept: str
    category: str  # "finding", "artifact", "state", "procedure"
    onset: float  # s
    duration: float  # s
    params: dict = field(default_factory=dict)


@dataclass
class Event:
    """One transient or burst to render (kind selects the waveform in ``events.py``)."""

    kind: str
    onset: float  # s
    duration: float  # s
    concept: str
    params: dict = field(default_factory=dict)


@dataclass
class SessionPlan:
    """All latent state of one session."""

    session_id: str
    patient: Patient
    site: SiteProfile
    session_index: int
    duration_s: float
    age: float
    meds: list[str]
    consciousness: str  # "awake", "lethargic", "coma"
    findings: dict[str, dict]  # finding concept -> session-level params
    artifacts: dict[str, dict]
    states: list[tuple[float, float, str]]  # (onset, duration, state)
    eyes_open: list[tuple[float, float]]
    hv: tuple[float, float] | None
    photic: list[tuple[float, float, float]]  # (onset, duration, flash Hz)
    episodes: list[Episode]
    events: list[Event]
    signal: dict  # background parameters (PDR Hz/amp, slowing levels, exponent, ...)

    @property
    def sfreq(self) -> float:
        return self.site.sfreq

    @property
    def setting(self) -> str:
        return self.patient.setting


def _noisy_or(leak: float, *causes: tuple[bool, float]) -> float:
    q = 1.0 - leak
    for active, p in causes:
        if active:
            q *= 1.0 - p
    return 1.0 - q


def _intervals(rng, T: float, p_continuous: float, n_range=(1, 3), len_frac=(0.08, 0.3),
               min_len=10.0) -> list[tuple[float, float]]:
    """Whole-session interval with probability p_continuous, else 1-3 non-overlapping windows."""
    if rng.random() < p_continuous:
        return [(0.0, T)]
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    edges = np.sort(rng.uniform(0, T, size=n + 1))
    out = []
    for i in range(n):
        lo, hi = edges[i], edges[i + 1] if i + 1 <= n else T
        length = max(min_len, T * rng.uniform(*len_frac))
        length = min(length, max(hi - lo, min_len), T)
        start = float(np.clip(lo, 0, T - length))
        out.append((start, float(length)))
    out.sort()
    merged = []
    for s, d in out:
        if merged and s < merged[-1][0] + merged[-1][1]:
            ps, pd = merged[-1]
            merged[-1] = (ps, max(ps + pd, s + d) - ps)
        else:
            merged.append((s, d))
    return merged


def _state_at(states, t: float) -> str:
    for s, d, name in states:
        if s <= t < s + d:
            return name
    return states[-1][2]


def _poisson_times(rng, intervals, rate_per_min: float, states=None, state_gain=None,
                   refractory=0.3) -> np.ndarray:
    """Event times (s) of a Poisson process inside intervals, rate scaled by state."""
    gains = state_gain or {}
    gmax = max([1.0, *gains.values()])
    times = []
    for s, d in intervals:
        n = rng.poisson(rate_per_min / 60.0 * d * gmax)
        t = np.sort(rng.uniform(s, s + d, size=n))
        if states is not None and gains:
            keep = rng.random(n) < np.array([gains.get(_state_at(states, x), 1.0) / gmax for x in t])
            t = t[keep]
        times.append(t)
    t = np.sort(np.concatenate(times)) if times else np.zeros(0)
    if t.size > 1:
        keep = np.concatenate([[True], np.diff(t) > refractory])
        t = t[keep]
    return t


class _Builder:
    """Accumulates findings, episodes and events for one plan."""

    def __init__(self, T: float):
        self.T = T
        self.findings: dict[str, dict] = {}
        self.artifacts: dict[str, dict] = {}
        self.episodes: list[Episode] = []
        self.events: list[Event] = []

    def finding(self, name: str, intervals, category="finding", **params):
        target = self.findings if category == "finding" else self.artifacts
        target[name] = dict(params)
        for s, d in intervals:
            self.episodes.append(Episode(name, category, float(s), float(d), dict(params)))

    def event(self, kind, onset, duration, concept, **params):
        onset = float(max(0.0, onset))
        duration = float(min(duration, self.T - onset))
        if duration > 0:
            self.events.append(Event(kind, onset, duration, concept, params))


def _timeline(rng, patient: Patient, T: float, consciousness: str, age: float):
    """States, eyes-open blocks, hyperventilation and photic stimulation."""
    setting = patient.setting
    states: list[tuple[float, float, str]] = []
    hv = None
    photic: list[tuple[float, float, float]] = []
    if consciousness == "coma":
        return [(0.0, T, "coma")], [], None, []
    t_awake_end = T
    if setting == "outpatient":
        if rng.random() < (0.8 if 4 <= age <= 70 else 0.25):
            hv_len = min(180.0, 0.15 * T)
            hv = (0.25 * T, hv_len)
        if rng.random() < 0.85:
            start = (hv[0] + hv[1] + min(60.0, 0.05 * T)) if hv else 0.3 * T
            step = min(210.0, 0.18 * T) / len(PHOTIC_RATES)
            photic = [(start + i * step, 0.7 * step, float(f)) for i, f in enumerate(PHOTIC_RATES)]
        after = photic[-1][0] + photic[-1][1] if photic else (hv[0] + hv[1] if hv else 0.5 * T)
        p_drowsy, p_sleep = 0.75, 0.45 + (0.15 if age < 18 else 0.0)
        if rng.random() < p_drowsy:
            t_awake_end = min(T, after + rng.uniform(0.02, 0.12) * T)
    elif setting == "emu":
        if rng.random() < 0.3:
            step = min(210.0, 0.18 * T) / len(PHOTIC_RATES)
            photic = [(0.1 * T + i * step, 0.7 * step, float(f)) for i, f in enumerate(PHOTIC_RATES)]
        p_sleep = 0.7
        if rng.random() < 0.9:
            start = photic[-1][0] + photic[-1][1] if photic else 0.0
            t_awake_end = max(start, rng.uniform(0.2, 0.5) * T)
    else:  # icu, awake or lethargic
        p_sleep = 0.35
        if consciousness == "lethargic":
            t_awake_end = 0.0 if rng.random() < 0.6 else rng.uniform(0.1, 0.5) * T
        elif rng.random() < 0.5:
            t_awake_end = rng.uniform(0.4, 0.8) * T
    states.append((0.0, t_awake_end, "awake"))
    t = t_awake_end
    if t < T:
        drowsy_len = min(T - t, max(20.0, min(150.0, 0.1 * T) * rng.uniform(0.5, 1.5)))
        if consciousness == "lethargic":
            drowsy_len = T - t if rng.random() < 0.7 else drowsy_len
        states.append((t, drowsy_len, "drowsy"))
        t += drowsy_len
        if t < T and rng.random() < p_sleep:
            n3 = rng.random() < (0.3 if setting == "emu" else 0.12)
            n2_len = T - t if not n3 else (T - t) * rng.uniform(0.5, 0.8)
            states.append((t, n2_len, "n2"))
            t += n2_len
            if t < T:
                states.append((t, T - t, "n3"))
        elif t < T:
            states.append((t, T - t, "awake" if consciousness != "lethargic" else "drowsy"))
    states = [(s, d, n) for s, d, n in states if d > 0]
    # Eyes open blocks during awake, outside HV and photic (eyes closed for both).
    busy = ([hv] if hv else []) + [(p[0], p[1] / 0.7) for p in photic]
    eyes_open = []
    eo_frac = 0.5 if setting == "icu" else 0.25
    for s, d, name in states:
        if name != "awake":
            continue
        t = s + rng.uniform(2.0, 10.0)
        while t < s + d:
            eo = rng.uniform(5.0, 20.0) * (2.0 if eo_frac > 0.3 else 1.0)
            eo = min(eo, s + d - t)
            if eo > 1.0 and not any(b0 - 1 < t + eo and t < b0 + b1 + 1 for b0, b1 in busy):
                eyes_open.append((float(t), float(eo)))
            t += eo + rng.uniform(20.0, 80.0) * (1.0 if eo_frac < 0.3 else 0.6)
    return states, eyes_open, hv, photic


def _session_meds(rng, patient: Patient, consciousness_p: dict) -> tuple[list[str], dict]:
    meds = {m for m in patient.chronic_meds if rng.random() < 0.92}
    dx = set(patient.diagnoses)
    info = {"intubated": False, "anesthetic_dose": False}
    if patient.setting == "icu":
        intubated = rng.random() < (0.75 if dx & {"cardiac_arrest", "status_epilepticus"} else 0.4)
        info["intubated"] = bool(intubated)
        if intubated:
            if rng.random() < 0.55:
                meds.add("propofol")
            if rng.random() < (0.45 if "status_epilepticus" in dx else 0.15):
                meds.add("midazolam")
            if rng.random() < 0.2:
                meds.add("dexmedetomidine")
            if rng.random() < 0.7:
                meds.add("fentanyl")
        else:
            if rng.random() < 0.15:
                meds.add("haloperidol")
            if rng.random() < 0.12:
                meds.add("quetiapine")
            if rng.random() < 0.1:
                meds.add("oxycodone")
        if rng.random() < (0.5 if "status_epilepticus" in dx else 0.1):
            meds.add("lorazepam")
        structural = dx & set(STRUCTURAL) or "cns_infection" in dx
        if (structural or dx & set(EPILEPSY) or "seizure_unspecified" in dx) and rng.random() < 0.45:
            meds.add("levetiracetam")
        if "status_epilepticus" in dx:
            for drug, p in (("lacosamide", 0.35), ("phenytoin", 0.2), ("valproate", 0.15),
                            ("phenobarbital", 0.08)):
                if rng.random() < p:
                    meds.add(drug)
        if rng.random() < (0.3 if "renal_failure" in dx else 0.1):
            meds.add("cefepime")
        if rng.random() < 0.02:
            meds.add("baclofen")
        infusion = meds & {"propofol", "midazolam"}
        p_high = 0.45 if "status_epilepticus" in dx else 0.25 if "cardiac_arrest" in dx else 0.1
        info["anesthetic_dose"] = bool(infusion and rng.random() < p_high)
    elif patient.setting == "emu" and meds & set(ASMS) and rng.random() < 0.3:
        # ASM taper in the EMU: one drug withheld to capture events
        meds.discard(min(meds & set(ASMS)))
    return sorted(meds), info


def plan_session(seed: int, session_id: str, duration_s: float | None = None) -> SessionPlan:
    """Draw the full latent plan of one session from ``(seed, session_id)``.

    Parameters
    ----------
    seed : int
        Cohort seed.
    session_id : str
        Synthetic id ``{site}-P{patient:06d}-S{session}[-D{seconds}]``.
    duration_s : float, optional
        Override the duration encoded in the id.

    Returns
    -------
    SessionPlan
    """
    site_name, pidx, sidx, dur = parse_session_id(session_id)
    site = get_site(site_name)
    patient = draw_patient(seed, site, pidx)
    T = float(duration_s if duration_s is not None else dur)
    rng = patient_rng(seed, site, pidx, sidx + 1, STREAM_PLAN)
    dx = set(patient.diagnoses)
    if patient.setting == "icu":
        age = patient.age + sidx / 365.0
    else:
        age = patient.age + sidx * rng.uniform(0.1, 1.5)
    meds_list, med_info = _session_meds(rng, patient, {})
    meds = set(meds_list)
    r = rng.random
    icu = patient.setting == "icu"
    n_asm = len(meds & set(ASMS))
    asm_factor = 0.85 ** n_asm
    dementia = bool(dx & set(DEMENTIA))
    enceph = bool(dx & set(ENCEPHALOPATHY))
    anoxic = "anoxic_brain_injury" in dx
    structural = bool(dx & set(STRUCTURAL))
    b = _Builder(T)

    # Consciousness and burst suppression first: they gate everything else.
    p_bs = _noisy_or(0.0, (med_info["anesthetic_dose"], 0.9), (anoxic, 0.35),
                     ("cardiac_arrest" in dx and not anoxic, 0.08),
                     ("baclofen" in meds and icu, 0.1))
    bs = icu and r() < p_bs
    if not icu:
        consciousness = "awake"
    elif bs:
        consciousness = "coma"
    else:
        p_coma = _noisy_or(0.05, (anoxic, 0.55), (med_info["intubated"], 0.45),
                           ("status_epilepticus" in dx, 0.3), (enceph, 0.15))
        consciousness = "coma" if r() < p_coma else ("lethargic" if r() < 0.65 else "awake")
    states, eyes_open, hv, photic = _timeline(rng, patient, T, consciousness, age)
    awake_iv = [(s, d) for s, d, n in states if n == "awake"]
    drowsy_iv = [(s, d) for s, d, n in states if n == "drowsy"]
    n2_iv = [(s, d) for s, d, n in states if n == "n2"]
    n3_iv = [(s, d) for s, d, n in states if n == "n3"]
    sleep_time = sum(d for _, d in n2_iv + n3_iv)
    for s, d, n in states:
        b.episodes.append(Episode(n, "state", s, d))
    for s, d in eyes_open:
        b.episodes.append(Episode("eyes_open", "state", s, d))
    if hv:
        b.episodes.append(Episode("hyperventilation", "procedure", hv[0], hv[1]))
    for s, d, f in photic:
        b.episodes.append(Episode("photic_stimulation", "procedure", s, d, {"rate_hz": f}))
    whole = [(0.0, T)]
    lesion = patient.lesion_side
    focus = patient.focus

    # --- background: PDR -------------------------------------------------------------------
    sig = {"exponent": patient.traits["exponent"], "amp": patient.traits["amp"],
           "theta": 0.0, "delta": 0.0, "slowing_intervals": [], "beta": 1.0,
           "pdr_hz": None, "pdr_amp": 0.0, "suppressed": False}
    pdr_present = awake_iv and (not icu or consciousness == "awake" or
                                (consciousness == "lethargic" and r() < 0.45)) and age >= 0.3
    f_norm = normal_pdr_hz(age) + patient.traits["pdr_offset"]
    if age >= 15:
        f_norm = float(np.clip(f_norm, 8.6, 11.0))
    if pdr_present:
        p_slow = _noisy_or(0.03, (dementia, 0.55), (enceph, 0.55),
                           ("altered_mental_status" in dx, 0.2), ("lithium" in meds, 0.2),
                           ("clozapine" in meds, 0.2), ("phenytoin" in meds, 0.1),
                           ("carbamazepine" in meds, 0.1), (age >= 75, 0.12), ("tbi" in dx, 0.15),
                           (anoxic, 0.5), ("cns_infection" in dx, 0.3), (icu, 0.15))
        if r() < p_slow:
            f = f_norm - rng.uniform(1.5, 3.5)
            f = float(np.clip(f, 5.5, 7.9)) if age >= 15 else max(f, 3.0)
            name = "pdr_slowing"
        else:
            f, name = f_norm, "normal_pdr"
        sig["pdr_hz"] = round(float(f), 2)
        sig["pdr_amp"] = patient.traits["pdr_amp"] * (0.7 if name == "pdr_slowing" else 1.0)
        sig["pdr_asym"] = float(rng.uniform(1.0, 1.25))  # right/left ratio (right often higher)
        b.finding(name, awake_iv, frequency_hz=sig["pdr_hz"], reactive=True)

    # --- burst suppression -------------------------------------------------------------------
    if bs:
        ratio = float(rng.uniform(0.5, 0.95))
        sig["suppressed"] = True
        mean_burst = float(rng.uniform(1.0, 4.0))
        t = rng.uniform(0, 3.0)
        n_b = 0
        while t < T:
            burst = float(np.clip(rng.lognormal(np.log(mean_burst), 0.4), 0.5, 10.0))
            if t + burst > T:
                break
            b.event("bs_burst", t, burst, "burst_suppression", amp=float(rng.uniform(60, 200)))
            n_b += 1
            gap = rng.exponential(mean_burst * ratio / (1 - ratio) * 0.6)
            t += burst + mean_burst * ratio / (1 - ratio) * 0.4 + gap
        if n_b:
            sup = 1.0 - sum(e.duration for e in b.events if e.kind == "bs_burst") / T
            b.finding("burst_suppression", whole, suppression_ratio=round(sup, 3),
                      n_bursts=n_b)

    # --- generalized slowing ----------------------------------------------------------------
    if not bs:
        p_gs = _noisy_or(0.03, ("metabolic_encephalopathy" in dx, 0.8),
                         ("hepatic_encephalopathy" in dx, 0.85), ("toxic_encephalopathy" in dx, 0.7),
                         (anoxic, 0.7), (dementia, 0.45), ("altered_mental_status" in dx, 0.45),
                         ("cns_infection" in dx, 0.6), ("tbi" in dx, 0.3),
                         ("subarachnoid_hemorrhage" in dx, 0.5),
                         ("intracerebral_hemorrhage" in dx, 0.3),
                         ("status_epilepticus" in dx, 0.4), ("lithium" in meds, 0.2),
                         ("clozapine" in meds, 0.25), ("amitriptyline" in meds, 0.1),
                         ("fentanyl" in meds, 0.1), (consciousness == "coma", 0.5),
                         (age >= 80, 0.1))
        if r() < p_gs:
            severity = float(rng.uniform(0.3, 1.0)) * (1.3 if icu else 0.8)
            iv = _intervals(rng, T, 0.65 if icu else 0.5, len_frac=(0.08, 0.3), min_len=30.0)
            sig["theta"] = 8.0 + 12.0 * min(severity, 1.2)
            sig["delta"] = 6.0 + 30.0 * max(0.0, severity - 0.3)
            sig["slowing_intervals"] = iv
            b.finding("generalized_slowing", iv, severity=round(min(severity, 1.0), 2),
                      continuous=iv == whole)

    # --- focal slowing, asymmetry ------------------------------------------------------------
    lesion_region = "frontal" if focus == "frontal" else "temporal"
    p_fs = _noisy_or(0.01, ("ischemic_stroke" in dx, 0.6), ("intracerebral_hemorrhage" in dx, 0.65),
                     ("subdural_hematoma" in dx, 0.5), ("brain_tumor" in dx, 0.7),
                     ("tbi" in dx, 0.35), ("cns_infection" in dx, 0.3),
                     ("focal_epilepsy" in dx, 0.2))
    if r() < p_fs * (0.4 if bs else 1.0):
        name = ("focal_slowing_frontal" if lesion_region == "frontal"
                else f"focal_slowing_{lesion}_temporal")
        iv = _intervals(rng, T, 0.6 if structural else 0.3, min_len=30.0)
        b.finding(name, iv, side=lesion, amp_uv=round(float(rng.uniform(15, 35)), 1),
                  continuous=iv == whole)
    p_asym = _noisy_or(0.005, ("ischemic_stroke" in dx, 0.35), ("intracerebral_hemorrhage" in dx, 0.35),
                       ("subdural_hematoma" in dx, 0.55), ("brain_tumor" in dx, 0.15),
                       ("tbi" in dx, 0.12))
    if r() < p_asym:
        b.finding("asymmetry", whole, side=lesion, ratio=round(float(rng.uniform(0.4, 0.65)), 2))

    # --- excess beta --------------------------------------------------------------------------
    p_beta = _noisy_or(0.02, ("lorazepam" in meds, 0.7), ("clonazepam" in meds, 0.65),
                       ("midazolam" in meds and not bs, 0.6), ("propofol" in meds and not bs, 0.5),
                       ("phenobarbital" in meds, 0.65), ("amitriptyline" in meds, 0.3))
    if r() < p_beta:
        sig["beta"] = float(rng.uniform(3.0, 6.0))
        b.finding("excess_beta", whole, amp_ratio=round(sig["beta"], 2))

    # --- focal epileptiform discharges ---------------------------------------------------------
    sleep_gain = {"awake": 1.0, "drowsy": 2.0, "n2": 3.0, "n3": 2.5, "coma": 1.0}
    if focus == "centrotemporal":
        ied_name = "ied_centrotemporal"
    elif focus == "frontal":
        ied_name = "ied_frontal"
    else:
        ied_name = f"ied_{lesion}_temporal"
    p_ied = _noisy_or(0.008, ("focal_epilepsy" in dx, 0.55 if patient.setting == "emu" else 0.42),
                      ("epilepsy_unspecified" in dx, 0.3), ("status_epilepticus" in dx, 0.5),
                      ("brain_tumor" in dx, 0.15), ("ischemic_stroke" in dx, 0.08 if icu else 0.04),
                      ("intracerebral_hemorrhage" in dx, 0.08), ("tbi" in dx, 0.06),
                      ("cns_infection" in dx, 0.1), ("clozapine" in meds, 0.05))
    if focus == "centrotemporal" and dx & {"focal_epilepsy", "epilepsy_unspecified"}:
        p_ied = max(p_ied, 0.75)
    p_ied = p_ied * asm_factor + (0.15 if sleep_time > 60 and p_ied > 0.1 else 0.0)
    if r() < p_ied:
        rate = float(np.exp(rng.uniform(np.log(0.5), np.log(10.0))))  # per minute, awake
        iv = _intervals(rng, T, 0.6, n_range=(1, 3), len_frac=(0.1, 0.3), min_len=30.0)
        times = _poisson_times(rng, iv, rate, states, sleep_gain)
        if ied_name == "ied_centrotemporal":
            times = _poisson_times(rng, iv, rate, states, {"awake": 0.5, "drowsy": 3, "n2": 6,
                                                          "n3": 5})
        morph = "spike" if rng.random() < 0.5 else "sharp"
        if times.size:
            for t in times:
                amp = float(rng.uniform(100, 250) if ied_name == "ied_centrotemporal"
                            else rng.uniform(60, 180))
                width = float(rng.uniform(0.02, 0.07) if morph == "spike" else rng.uniform(0.08, 0.18))
                b.event(morph, t, width + 0.3, ied_name, amp=amp, width=width, side=lesion,
                        region=focus)
            b.finding(ied_name, iv, side=lesion, morphology=morph, rate_per_min=round(rate, 2),
                      n_events=int(times.size))

    # --- generalized epileptiform ---------------------------------------------------------------
    p_gsw = _noisy_or(0.002, ("absence_epilepsy" in dx, 0.8), ("generalized_epilepsy" in dx, 0.3),
                      ("jme" in dx, 0.15), ("epilepsy_unspecified" in dx, 0.05))
    if meds & {"ethosuximide", "valproate"}:
        p_gsw *= 0.5
    if not bs and r() < p_gsw:
        rate = float(rng.uniform(0.3, 2.5))
        gain = {"awake": 1.0, "drowsy": 1.5, "n2": 1.0, "n3": 0.5}
        times = list(_poisson_times(rng, whole, rate, states, gain, refractory=25.0))
        if hv:  # provoked by hyperventilation
            times += list(_poisson_times(rng, [hv], 1.5 * 60.0 / max(hv[1], 30.0)
                                         + rate * 3, refractory=25.0))
        times = sorted(set(np.round(times, 3)))
        n = 0
        for t in times:
            dur = float(np.clip(rng.lognormal(np.log(5.0), 0.5), 2.0, 20.0))
            if t + dur < T and not any(e.kind == "gsw" and abs(e.onset - t) < 25 for e in b.events):
                f = float(rng.uniform(2.8, 3.4))
                b.event("gsw", t, dur, "gsw_3hz", amp=float(rng.uniform(150, 350)), freq=f)
                b.episodes.append(Episode("gsw_3hz", "finding", float(t), dur, {"frequency_hz": f}))
                n += 1
        if n:
            b.findings["gsw_3hz"] = {"n_bursts": n}
    p_psw = _noisy_or(0.001, ("jme" in dx, 0.55), ("generalized_epilepsy" in dx, 0.2))
    if "valproate" in meds:
        p_psw *= 0.6
    if not bs and r() < p_psw:
        rate = float(rng.uniform(0.3, 2.0))
        times = list(_poisson_times(rng, whole, rate, states, {"drowsy": 2.0, "n2": 1.5},
                                    refractory=8.0))
        times += [p[0] + 0.5 for p in photic if 13 <= p[2] <= 25 and rng.random() < 0.4]
        n = 0
        for t in sorted(times):
            dur = float(rng.uniform(0.6, 3.0))
            if t + dur < T:
                b.event("polyspike", t, dur, "generalized_polyspikes",
                        amp=float(rng.uniform(100, 250)), freq=float(rng.uniform(4.0, 6.0)))
                b.episodes.append(Episode("generalized_polyspikes", "finding", float(t), dur))
                n += 1
        if n:
            b.findings["generalized_polyspikes"] = {"n_bursts": n}

    # --- periodic patterns ---------------------------------------------------------------------
    def periodic(name, kind, hz_range, amp_range, p_cont, **extra):
        iv = _intervals(rng, T, p_cont, n_range=(1, 2), len_frac=(0.2, 0.5), min_len=30.0)
        hz = float(rng.uniform(*hz_range))
        n = 0
        for s, d in iv:
            times = np.arange(s + rng.uniform(0, 1 / hz), s + d - 0.6, 1 / hz)
            times = times + rng.normal(0, 0.05 / hz, size=times.size)
            b.event(kind, s, d, name, times=[float(x - s) for x in times],
                    amp=float(rng.uniform(*amp_range)), **extra)
            n += times.size
        b.finding(name, iv, frequency_hz=round(hz, 2), n_events=int(n), **extra)

    p_lpd = _noisy_or(0.0005, ("ischemic_stroke" in dx, 0.08 if icu else 0.01),
                      ("intracerebral_hemorrhage" in dx, 0.12 if icu else 0.02),
                      ("brain_tumor" in dx, 0.12 if icu else 0.03), ("cns_infection" in dx, 0.2),
                      ("subdural_hematoma" in dx, 0.08), ("status_epilepticus" in dx, 0.2),
                      ("tbi" in dx, 0.04))
    if not bs and r() < p_lpd:
        periodic("lpds", "lpd", (0.5, 2.0), (60, 180), 0.7, side=lesion)
    p_gpd = _noisy_or(0.0005, (anoxic, 0.3),
                      ("cefepime" in meds, 0.4 if "renal_failure" in dx else 0.2),
                      ("baclofen" in meds, 0.3), ("lithium" in meds, 0.06),
                      ("metabolic_encephalopathy" in dx, 0.05), ("status_epilepticus" in dx, 0.15),
                      ("toxic_encephalopathy" in dx, 0.15))
    if not bs and r() < p_gpd:
        periodic("gpds", "gpd", (0.5, 2.5), (60, 180), 0.6)
    p_tw = _noisy_or(0.0, ("hepatic_encephalopathy" in dx, 0.35),
                     ("metabolic_encephalopathy" in dx, 0.12), ("renal_failure" in dx, 0.08),
                     ("cefepime" in meds, 0.15), ("lithium" in meds and age >= 55, 0.15))
    if not bs and "gpds" not in b.findings and r() < p_tw:
        periodic("triphasic_waves", "triphasic", (1.5, 2.5), (70, 180), 0.4,
                 lag_s=round(float(rng.uniform(0.025, 0.06)), 3))
    p_firda = _noisy_or(0.008, ("metabolic_encephalopathy" in dx, 0.12),
                        ("hepatic_encephalopathy" in dx, 0.12), ("toxic_encephalopathy" in dx, 0.1),
                        (dementia, 0.06), ("brain_tumor" in dx, 0.05),
                        ("altered_mental_status" in dx, 0.05))
    if not bs and r() < p_firda:
        rate = float(rng.uniform(0.5, 3.0))
        iv = _intervals(rng, T, 0.5, len_frac=(0.15, 0.4), min_len=60.0)
        times = _poisson_times(rng, iv, rate, refractory=10.0)
        for t in times:
            dur = float(rng.uniform(2.0, 8.0))
            if t + dur < T:
                f = float(rng.uniform(2.0, 3.0))
                b.event("firda", t, dur, "firda", amp=float(rng.uniform(50, 130)), freq=f)
                b.episodes.append(Episode("firda", "finding", float(t), dur, {"frequency_hz": f}))
        n = sum(1 for e in b.events if e.kind == "firda")
        if n:
            b.findings["firda"] = {"n_bursts": n}

    # --- seizures -----------------------------------------------------------------------------
    if icu:
        p_sz = _noisy_or(0.0, ("status_epilepticus" in dx, 0.4), (structural, 0.08),
                         ("cns_infection" in dx, 0.12), (anoxic, 0.1), ("focal_epilepsy" in dx, 0.1))
        n_max = 4
    elif patient.setting == "emu":
        p_sz = _noisy_or(0.0, ("focal_epilepsy" in dx, 0.2), ("generalized_epilepsy" in dx, 0.08),
                         ("epilepsy_unspecified" in dx, 0.1), ("jme" in dx, 0.05))
        n_max = 1
    else:
        p_sz = _noisy_or(0.0, (bool(dx & set(EPILEPSY)), 0.015))
        n_max = 1
    p_sz *= asm_factor * (0.5 if med_info["anesthetic_dose"] else 1.0)
    if not bs and r() < p_sz and T >= 40:
        n_sz = int(rng.integers(1, n_max + 1))
        gen = bool(dx & {"generalized_epilepsy", "jme"}) and focus != "centrotemporal"
        region = "generalized" if gen else ("frontal" if focus == "frontal" else "temporal")
        t = rng.uniform(0.05, 0.3) * T
        for _ in range(n_sz):
            dur = float(np.clip(rng.uniform(20, 120), 10.0, max(10.0, 0.25 * T)))
            post = float(np.clip(rng.uniform(30, 120), 5.0, max(5.0, 0.15 * T)))
            if t + dur > T - 2:
                break
            f0 = float(rng.uniform(5.0, 7.0))
            f1 = float(rng.uniform(2.0, 3.0))
            b.event("seizure", t, dur + post, "seizure", amp=float(rng.uniform(80, 200)),
                    f0=f0, f1=f1, ictal_s=dur, side=lesion, region=region)
            b.episodes.append(Episode("seizure", "finding", float(t), dur,
                                      {"side": lesion, "region": region, "f0": round(f0, 2),
                                       "f1": round(f1, 2)}))
            t += dur + post + rng.uniform(0.05, 0.3) * T
        n = sum(1 for e in b.events if e.kind == "seizure")
        if n:
            b.findings["seizure"] = {"n_seizures": n, "side": lesion, "region": region}

    # --- sleep transients ----------------------------------------------------------------------
    severe = sig["theta"] > 18.0
    drowsy_n2 = drowsy_iv + n2_iv
    if drowsy_n2 and r() < 0.9:
        times = _poisson_times(rng, drowsy_n2, 3.0, states, {"drowsy": 1.0, "n2": 1.5},
                               refractory=2.0)
        for t in times:
            b.event("vertex", t, 0.4, "vertex_waves", amp=float(rng.uniform(50, 150)))
        if times.size:
            b.finding("vertex_waves", drowsy_n2, n_events=int(times.size))
    if n2_iv and sum(d for _, d in n2_iv) >= 20 and r() < (0.35 if severe else 0.95):
        dens = float(rng.uniform(2.0, 7.0))
        times = _poisson_times(rng, n2_iv + n3_iv, dens, states, {"n2": 1.0, "n3": 0.3},
                               refractory=3.0)
        for t in times:
            b.event("spindle", t, float(rng.uniform(0.5, 2.0)), "sleep_spindles",
                    amp=float(rng.uniform(20, 45)), freq=float(rng.uniform(11.5, 14.5)))
        if times.size:
            b.finding("sleep_spindles", n2_iv, density_per_min=round(dens, 2),
                      n_events=int(times.size))
        if r() < 0.85:
            kt = _poisson_times(rng, n2_iv, float(rng.uniform(0.5, 3.0)), refractory=5.0)
            kt = np.array([t for t in kt if not any(abs(t - e.onset) < 1.5 for e in b.events
                                                    if e.kind == "spindle")])
            for t in kt:
                b.event("kcomplex", t, 1.0, "k_complexes", amp=float(rng.uniform(75, 200)))
            if kt.size:
                b.finding("k_complexes", n2_iv, n_events=int(kt.size))
    if n3_iv:
        sig["n3_delta"] = float(rng.uniform(35, 60))

    # --- activation procedures ----------------------------------------------------------------
    if photic and sig["pdr_hz"] and r() < (0.75 if age < 18 else 0.6):
        lo, hi = sorted(rng.uniform(3.0, 22.0, size=2))
        driven = [(s, d, f) for s, d, f in photic if lo - 2 <= f <= hi + 4 and f >= 3]
        if driven:
            amp = float(rng.uniform(8, 25))
            for s, d, f in driven:
                b.event("photic", s, d, "photic_driving", freq=f, amp=amp)
            b.finding("photic_driving", [(s, d) for s, d, _ in driven],
                      rates_hz=[f for _, _, f in driven])
    if hv:
        p_hv = _noisy_or(0.15, (age < 18, 0.5), ("absence_epilepsy" in dx, 0.3))
        if r() < p_hv:
            amp = float(rng.uniform(40, 120))
            b.event("hv", hv[0], hv[1] + min(60.0, 0.05 * T), "hv_response", amp=amp,
                    freq=float(rng.uniform(1.5, 3.0)))
            b.finding("hv_response", [hv], amp_uv=round(amp, 1))

    # --- artifacts ----------------------------------------------------------------------------
    awake_total = sum(d for _, d in awake_iv)
    if awake_total > 0 and r() < 0.95:
        eo = eyes_open
        times = list(_poisson_times(rng, eo, float(rng.uniform(8, 20)), refractory=1.0))
        times += list(_poisson_times(rng, awake_iv, 1.5, refractory=1.0))
        times = sorted(times)
        for t in times:
            b.event("blink", t, 0.4, "eye_blinks", amp=float(rng.uniform(80, 200)))
        if times:
            b.finding("eye_blinks", eo or awake_iv, "artifact", n_events=len(times))
    if awake_total > 0 and r() < 0.7:
        times = _poisson_times(rng, eyes_open or awake_iv, float(rng.uniform(1, 5)), refractory=2.0)
        for t in times:
            b.event("eye_move", t, float(rng.uniform(0.5, 2.0)), "eye_movements",
                    amp=float(rng.uniform(40, 100)) * (1 if rng.random() < 0.5 else -1))
        for s, d in drowsy_iv:
            b.event("roving", s, min(d, 60.0), "eye_movements", amp=float(rng.uniform(30, 80)),
                    freq=float(rng.uniform(0.2, 0.5)))
        if times.size or drowsy_iv:
            b.finding("eye_movements", eyes_open or awake_iv, "artifact")
    if consciousness != "coma" and r() < (0.35 if icu else 0.6):
        times = _poisson_times(rng, awake_iv or whole, float(rng.uniform(0.3, 2.5)), refractory=5.0)
        for t in times:
            b.event("muscle", t, float(rng.uniform(1.0, 8.0)), "muscle",
                    amp=float(rng.uniform(10, 50)), side=str(rng.choice(["left", "right", "both"])))
        if times.size:
            b.finding("muscle", awake_iv or whole, "artifact", n_events=int(times.size))
    if r() < min(0.9, 0.25 * site.pop_rate):
        ch = int(rng.integers(0, 19))
        iv = _intervals(rng, T, 0.2, n_range=(1, 2), len_frac=(0.05, 0.2))
        times = _poisson_times(rng, iv, float(rng.uniform(1, 6)), refractory=1.0)
        for t in times:
            b.event("pop", t, 1.5, "electrode_pop", channel=ch, amp=float(rng.uniform(100, 500)))
        if times.size:
            b.finding("electrode_pop", iv, "artifact", channel=ch, n_events=int(times.size))
    if r() < 0.3:
        chans = sorted(int(c) for c in rng.choice(19, size=int(rng.integers(1, 4)), replace=False))
        iv = _intervals(rng, T, 0.4, n_range=(1, 2), len_frac=(0.1, 0.4))
        amp = float(rng.uniform(10, 60))
        for s, d in iv:
            b.event("line", s, d, "line_noise", channels=chans, amp=amp)
        b.finding("line_noise", iv, "artifact", channels=chans, frequency_hz=site.line_freq)
    p_ecg = 0.3 + (0.25 if site.reference == "linked_ears" else 0) + (0.15 if age >= 65 else 0)
    if r() < p_ecg:
        hr = patient.traits["heart_rate"] * float(rng.uniform(0.9, 1.1))
        amp = float(rng.uniform(5, 25))
        b.event("ecg", 0.0, T, "ecg_artifact", amp=amp, heart_rate=hr)
        b.finding("ecg_artifact", whole, "artifact", heart_rate_bpm=round(hr, 1))

    # per-session channel gain (electrode impedance) and noise seed are drawn in the signal stage
    b.episodes.sort(key=lambda e: (e.onset, e.concept))
    b.events.sort(key=lambda e: (e.onset, e.kind))
    return SessionPlan(session_id, patient, site, sidx, T, float(age), sorted(meds),
                       consciousness, b.findings, b.artifacts, states, eyes_open, hv, photic,
                       b.episodes, b.events, sig)
