"""Planning steps for the state of the patient and normal activity: consciousness and burst
suppression decision, state timeline, posterior dominant rhythm, sleep transients and the
responses to activation procedures.

Each step takes the session's :class:`~clef.synth.plan_types.PlanContext` and draws from its plan
stream; the order of the steps (``clef.synth.plan.PLAN_STEPS``) is part of the output.
"""
from __future__ import annotations

import numpy as np

from clef.synth.patients import normal_pdr_hz
from clef.synth.plan_timeline import draw_timeline
from clef.synth.plan_types import Episode, PlanContext, noisy_or, poisson_times


def plan_consciousness(c: PlanContext) -> None:
    """Consciousness and burst suppression first: they gate everything else."""
    r, dx, meds, icu = c.rng.random, c.dx, c.meds, c.icu
    anoxic, enceph = c.anoxic, c.enceph
    p_bs = noisy_or(0.0, (c.med_info["anesthetic_dose"], 0.9), (anoxic, 0.35),
                    ("cardiac_arrest" in dx and not anoxic, 0.08),
                    ("baclofen" in meds and icu, 0.1))
    c.bs = bs = icu and r() < p_bs
    if not icu:
        c.consciousness = "awake"
    elif bs:
        c.consciousness = "coma"
    else:
        p_coma = noisy_or(0.05, (anoxic, 0.55), (c.med_info["intubated"], 0.45),
                          ("status_epilepticus" in dx, 0.3), (enceph, 0.15))
        c.consciousness = "coma" if r() < p_coma else ("lethargic" if r() < 0.65 else "awake")


def plan_timeline(c: PlanContext) -> None:
    """States, eyes-open blocks, hyperventilation and photic stimulation, as episodes."""
    c.states, c.eyes_open, c.hv, c.photic = draw_timeline(c.rng, c.patient, c.T, c.consciousness,
                                                          c.age)
    b = c.b
    for s, d, n in c.states:
        b.episodes.append(Episode(n, "state", s, d))
    for s, d in c.eyes_open:
        b.episodes.append(Episode("eyes_open", "state", s, d))
    if c.hv:
        b.episodes.append(Episode("hyperventilation", "procedure", c.hv[0], c.hv[1]))
    for s, d, f in c.photic:
        b.episodes.append(Episode("photic_stimulation", "procedure", s, d, {"rate_hz": f}))


def plan_pdr(c: PlanContext) -> None:
    """Background parameters and the posterior dominant rhythm (normal or slow)."""
    rng, r, dx, meds, icu, age = c.rng, c.rng.random, c.dx, c.meds, c.icu, c.age
    patient, consciousness = c.patient, c.consciousness
    dementia, enceph, anoxic = c.dementia, c.enceph, c.anoxic
    awake_iv = c.state_intervals("awake")
    c.sig = sig = {"exponent": patient.traits["exponent"], "amp": patient.traits["amp"],
                   "theta": 0.0, "delta": 0.0, "slowing_intervals": [], "beta": 1.0,
                   "pdr_hz": None, "pdr_amp": 0.0, "suppressed": False}
    pdr_present = awake_iv and (not icu or consciousness == "awake" or
                                (consciousness == "lethargic" and r() < 0.45)) and age >= 0.3
    f_norm = normal_pdr_hz(age) + patient.traits["pdr_offset"]
    if age >= 15:
        f_norm = float(np.clip(f_norm, 8.6, 11.0))
    if pdr_present:
        p_slow = noisy_or(0.03, (dementia, 0.55), (enceph, 0.55),
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
        c.b.finding(name, awake_iv, frequency_hz=sig["pdr_hz"], reactive=True)


def plan_sleep_transients(c: PlanContext) -> None:
    """Vertex waves (drowsiness, N2), spindles and K-complexes (N2), N3 delta level."""
    rng, r, b, states, sig = c.rng, c.rng.random, c.b, c.states, c.sig
    drowsy_iv, n2_iv, n3_iv = (c.state_intervals(n) for n in ("drowsy", "n2", "n3"))
    severe = sig["theta"] > 18.0
    drowsy_n2 = drowsy_iv + n2_iv
    if drowsy_n2 and r() < 0.9:
        times = poisson_times(rng, drowsy_n2, 3.0, states, {"drowsy": 1.0, "n2": 1.5},
                              refractory=2.0)
        for t in times:
            b.event("vertex", t, 0.4, "vertex_waves", amp=float(rng.uniform(50, 150)))
        if times.size:
            b.finding("vertex_waves", drowsy_n2, n_events=int(times.size))
    if n2_iv and sum(d for _, d in n2_iv) >= 20 and r() < (0.35 if severe else 0.95):
        dens = float(rng.uniform(2.0, 7.0))
        times = poisson_times(rng, n2_iv + n3_iv, dens, states, {"n2": 1.0, "n3": 0.3},
                              refractory=3.0)
        for t in times:
            b.event("spindle", t, float(rng.uniform(0.5, 2.0)), "sleep_spindles",
                    amp=float(rng.uniform(20, 45)), freq=float(rng.uniform(11.5, 14.5)))
        if times.size:
            b.finding("sleep_spindles", n2_iv, density_per_min=round(dens, 2),
                      n_events=int(times.size))
        if r() < 0.85:
            kt = poisson_times(rng, n2_iv, float(rng.uniform(0.5, 3.0)), refractory=5.0)
            kt = np.array([t for t in kt if not any(abs(t - e.onset) < 1.5 for e in b.events
                                                    if e.kind == "spindle")])
            for t in kt:
                b.event("kcomplex", t, 1.0, "k_complexes", amp=float(rng.uniform(75, 200)))
            if kt.size:
                b.finding("k_complexes", n2_iv, n_events=int(kt.size))
    if n3_iv:
        sig["n3_delta"] = float(rng.uniform(35, 60))


def plan_activation_responses(c: PlanContext) -> None:
    """Photic driving at some flash rates; hyperventilation build-up."""
    rng, r, b, age, photic, hv = c.rng, c.rng.random, c.b, c.age, c.photic, c.hv
    if photic and c.sig["pdr_hz"] and r() < (0.75 if age < 18 else 0.6):
        lo, hi = sorted(rng.uniform(3.0, 22.0, size=2))
        driven = [(s, d, f) for s, d, f in photic if lo - 2 <= f <= hi + 4 and f >= 3]
        if driven:
            amp = float(rng.uniform(8, 25))
            for s, d, f in driven:
                b.event("photic", s, d, "photic_driving", freq=f, amp=amp)
            b.finding("photic_driving", [(s, d) for s, d, _ in driven],
                      rates_hz=[f for _, _, f in driven])
    if hv:
        p_hv = noisy_or(0.15, (age < 18, 0.5), ("absence_epilepsy" in c.dx, 0.3))
        if r() < p_hv:
            amp = float(rng.uniform(40, 120))
            b.event("hv", hv[0], hv[1] + min(60.0, 0.05 * c.T), "hv_response", amp=amp,
                    freq=float(rng.uniform(1.5, 3.0)))
            b.finding("hv_response", [hv], amp_uv=round(amp, 1))
