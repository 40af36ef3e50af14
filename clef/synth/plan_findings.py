"""Planning steps for the abnormal findings: burst suppression, slowing, asymmetry, excess beta,
epileptiform discharges, periodic and rhythmic patterns, seizures.

Each step takes the session's :class:`~clef.synth.plan_types.PlanContext`, draws from its plan
stream and adds findings, episodes and events to ``ctx.b``. The order of the steps (see
``clef.synth.plan.PLAN_STEPS``) and of the draws inside each step is part of the output.
"""
from __future__ import annotations

import numpy as np

from clef.synth.patients import EPILEPSY
from clef.synth.plan_types import Episode, PlanContext, draw_intervals, noisy_or, poisson_times


def plan_burst_suppression(c: PlanContext) -> None:
    """Bursts of mixed activity alternating with suppression (decided by the consciousness step)."""
    if not c.bs:
        return
    rng, T, b = c.rng, c.T, c.b
    ratio = float(rng.uniform(0.5, 0.95))
    c.sig["suppressed"] = True
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
        b.finding("burst_suppression", c.whole, suppression_ratio=round(sup, 3), n_bursts=n_b)


def plan_generalized_slowing(c: PlanContext) -> None:
    """Diffuse theta/delta, continuous or intermittent (not under burst suppression)."""
    if c.bs:
        return
    rng, r, T, dx, meds, icu, sig = c.rng, c.rng.random, c.T, c.dx, c.meds, c.icu, c.sig
    dementia, anoxic = c.dementia, c.anoxic
    p_gs = noisy_or(0.03, ("metabolic_encephalopathy" in dx, 0.8),
                    ("hepatic_encephalopathy" in dx, 0.85), ("toxic_encephalopathy" in dx, 0.7),
                    (anoxic, 0.7), (dementia, 0.45), ("altered_mental_status" in dx, 0.45),
                    ("cns_infection" in dx, 0.6), ("tbi" in dx, 0.3),
                    ("subarachnoid_hemorrhage" in dx, 0.5),
                    ("intracerebral_hemorrhage" in dx, 0.3),
                    ("status_epilepticus" in dx, 0.4), ("lithium" in meds, 0.2),
                    ("clozapine" in meds, 0.25), ("amitriptyline" in meds, 0.1),
                    ("fentanyl" in meds, 0.1), (c.consciousness == "coma", 0.5),
                    (c.age >= 80, 0.1))
    if r() < p_gs:
        severity = float(rng.uniform(0.3, 1.0)) * (1.3 if icu else 0.8)
        iv = draw_intervals(rng, T, 0.65 if icu else 0.5, len_frac=(0.08, 0.3), min_len=30.0)
        sig["theta"] = 8.0 + 12.0 * min(severity, 1.2)
        sig["delta"] = 6.0 + 30.0 * max(0.0, severity - 0.3)
        sig["slowing_intervals"] = iv
        c.b.finding("generalized_slowing", iv, severity=round(min(severity, 1.0), 2),
                    continuous=iv == c.whole)


def plan_focal_slowing_and_asymmetry(c: PlanContext) -> None:
    """Focal polymorphic delta over the lesion, then hemispheric attenuation."""
    rng, r, T, dx, b = c.rng, c.rng.random, c.T, c.dx, c.b
    structural = c.structural
    lesion, focus = c.patient.lesion_side, c.patient.focus
    lesion_region = "frontal" if focus == "frontal" else "temporal"
    p_fs = noisy_or(0.01, ("ischemic_stroke" in dx, 0.6), ("intracerebral_hemorrhage" in dx, 0.65),
                    ("subdural_hematoma" in dx, 0.5), ("brain_tumor" in dx, 0.7),
                    ("tbi" in dx, 0.35), ("cns_infection" in dx, 0.3),
                    ("focal_epilepsy" in dx, 0.2))
    if r() < p_fs * (0.4 if c.bs else 1.0):
        name = ("focal_slowing_frontal" if lesion_region == "frontal"
                else f"focal_slowing_{lesion}_temporal")
        iv = draw_intervals(rng, T, 0.6 if structural else 0.3, min_len=30.0)
        b.finding(name, iv, side=lesion, amp_uv=round(float(rng.uniform(15, 35)), 1),
                  continuous=iv == c.whole)
    p_asym = noisy_or(0.005, ("ischemic_stroke" in dx, 0.35),
                      ("intracerebral_hemorrhage" in dx, 0.35),
                      ("subdural_hematoma" in dx, 0.55), ("brain_tumor" in dx, 0.15),
                      ("tbi" in dx, 0.12))
    if r() < p_asym:
        b.finding("asymmetry", c.whole, side=lesion,
                  ratio=round(float(rng.uniform(0.4, 0.65)), 2))


def plan_excess_beta(c: PlanContext) -> None:
    """Frontocentral beta from benzodiazepines, barbiturates, propofol, tricyclics."""
    meds, bs = c.meds, c.bs
    p_beta = noisy_or(0.02, ("lorazepam" in meds, 0.7), ("clonazepam" in meds, 0.65),
                      ("midazolam" in meds and not bs, 0.6), ("propofol" in meds and not bs, 0.5),
                      ("phenobarbital" in meds, 0.65), ("amitriptyline" in meds, 0.3))
    if c.rng.random() < p_beta:
        c.sig["beta"] = float(c.rng.uniform(3.0, 6.0))
        c.b.finding("excess_beta", c.whole, amp_ratio=round(c.sig["beta"], 2))


def plan_focal_ieds(c: PlanContext) -> None:
    """Focal spikes or sharp waves at the patient's focus, activated by drowsiness and sleep."""
    rng, r, T, dx, meds, icu, b = c.rng, c.rng.random, c.T, c.dx, c.meds, c.icu, c.b
    asm_factor = c.asm_factor
    lesion, focus, states = c.patient.lesion_side, c.patient.focus, c.states
    sleep_time = sum(d for _, d in c.state_intervals("n2") + c.state_intervals("n3"))
    sleep_gain = {"awake": 1.0, "drowsy": 2.0, "n2": 3.0, "n3": 2.5, "coma": 1.0}
    if focus == "centrotemporal":
        ied_name = "ied_centrotemporal"
    elif focus == "frontal":
        ied_name = "ied_frontal"
    else:
        ied_name = f"ied_{lesion}_temporal"
    p_ied = noisy_or(0.008, ("focal_epilepsy" in dx, 0.55 if c.patient.setting == "emu" else 0.42),
                     ("epilepsy_unspecified" in dx, 0.3), ("status_epilepticus" in dx, 0.5),
                     ("brain_tumor" in dx, 0.15), ("ischemic_stroke" in dx, 0.08 if icu else 0.04),
                     ("intracerebral_hemorrhage" in dx, 0.08), ("tbi" in dx, 0.06),
                     ("cns_infection" in dx, 0.1), ("clozapine" in meds, 0.05))
    if focus == "centrotemporal" and dx & {"focal_epilepsy", "epilepsy_unspecified"}:
        p_ied = max(p_ied, 0.75)
    p_ied = p_ied * asm_factor + (0.15 if sleep_time > 60 and p_ied > 0.1 else 0.0)
    if r() < p_ied:
        rate = float(np.exp(rng.uniform(np.log(0.5), np.log(10.0))))  # per minute, awake
        iv = draw_intervals(rng, T, 0.6, n_range=(1, 3), len_frac=(0.1, 0.3), min_len=30.0)
        times = poisson_times(rng, iv, rate, states, sleep_gain)
        if ied_name == "ied_centrotemporal":
            times = poisson_times(rng, iv, rate, states, {"awake": 0.5, "drowsy": 3, "n2": 6,
                                                          "n3": 5})
        morph = "spike" if rng.random() < 0.5 else "sharp"
        if times.size:
            for t in times:
                amp = float(rng.uniform(100, 250) if ied_name == "ied_centrotemporal"
                            else rng.uniform(60, 180))
                width = float(rng.uniform(0.02, 0.07) if morph == "spike"
                              else rng.uniform(0.08, 0.18))
                b.event(morph, t, width + 0.3, ied_name, amp=amp, width=width, side=lesion,
                        region=focus)
            b.finding(ied_name, iv, side=lesion, morphology=morph, rate_per_min=round(rate, 2),
                      n_events=int(times.size))


def plan_spike_and_wave(c: PlanContext) -> None:
    """Generalized 3 Hz spike-and-wave bursts, provoked by hyperventilation."""
    rng, r, T, dx, meds, b, hv = c.rng, c.rng.random, c.T, c.dx, c.meds, c.b, c.hv
    p_gsw = noisy_or(0.002, ("absence_epilepsy" in dx, 0.8), ("generalized_epilepsy" in dx, 0.3),
                     ("jme" in dx, 0.15), ("epilepsy_unspecified" in dx, 0.05))
    if meds & {"ethosuximide", "valproate"}:
        p_gsw *= 0.5
    if not c.bs and r() < p_gsw:
        rate = float(rng.uniform(0.3, 2.5))
        gain = {"awake": 1.0, "drowsy": 1.5, "n2": 1.0, "n3": 0.5}
        times = list(poisson_times(rng, c.whole, rate, c.states, gain, refractory=25.0))
        if hv:  # provoked by hyperventilation
            times += list(poisson_times(rng, [hv], 1.5 * 60.0 / max(hv[1], 30.0)
                                        + rate * 3, refractory=25.0))
        times = sorted(set(np.round(times, 3)))
        n = 0
        for t in times:
            dur = float(np.clip(rng.lognormal(np.log(5.0), 0.5), 2.0, 20.0))
            if t + dur < T and not any(e.kind == "gsw" and abs(e.onset - t) < 25
                                       for e in b.events):
                f = float(rng.uniform(2.8, 3.4))
                b.event("gsw", t, dur, "gsw_3hz", amp=float(rng.uniform(150, 350)), freq=f)
                b.episodes.append(Episode("gsw_3hz", "finding", float(t), dur,
                                          {"frequency_hz": f}))
                n += 1
        if n:
            b.findings["gsw_3hz"] = {"n_bursts": n}


def plan_polyspikes(c: PlanContext) -> None:
    """Generalized polyspike-and-wave bursts (JME), some as a photoparoxysmal response."""
    rng, r, T, dx, meds, b = c.rng, c.rng.random, c.T, c.dx, c.meds, c.b
    p_psw = noisy_or(0.001, ("jme" in dx, 0.55), ("generalized_epilepsy" in dx, 0.2))
    if "valproate" in meds:
        p_psw *= 0.6
    if not c.bs and r() < p_psw:
        rate = float(rng.uniform(0.3, 2.0))
        times = list(poisson_times(rng, c.whole, rate, c.states, {"drowsy": 2.0, "n2": 1.5},
                                   refractory=8.0))
        times += [p[0] + 0.5 for p in c.photic if 13 <= p[2] <= 25 and rng.random() < 0.4]
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


def _periodic(c: PlanContext, name, kind, hz_range, amp_range, p_cont, **extra) -> None:
    """One periodic pattern: 1-2 windows (or the whole record) of discharges at ``hz``."""
    rng, b = c.rng, c.b
    iv = draw_intervals(rng, c.T, p_cont, n_range=(1, 2), len_frac=(0.2, 0.5), min_len=30.0)
    hz = float(rng.uniform(*hz_range))
    n = 0
    for s, d in iv:
        times = np.arange(s + rng.uniform(0, 1 / hz), s + d - 0.6, 1 / hz)
        times = times + rng.normal(0, 0.05 / hz, size=times.size)
        b.event(kind, s, d, name, times=[float(x - s) for x in times],
                amp=float(rng.uniform(*amp_range)), **extra)
        n += times.size
    b.finding(name, iv, frequency_hz=round(hz, 2), n_events=int(n), **extra)


def plan_periodic_patterns(c: PlanContext) -> None:
    """LPDs, GPDs and triphasic waves (never under burst suppression; triphasic only w/o GPDs)."""
    rng, r, dx, meds, icu, bs = c.rng, c.rng.random, c.dx, c.meds, c.icu, c.bs
    anoxic = c.anoxic
    p_lpd = noisy_or(0.0005, ("ischemic_stroke" in dx, 0.08 if icu else 0.01),
                     ("intracerebral_hemorrhage" in dx, 0.12 if icu else 0.02),
                     ("brain_tumor" in dx, 0.12 if icu else 0.03), ("cns_infection" in dx, 0.2),
                     ("subdural_hematoma" in dx, 0.08), ("status_epilepticus" in dx, 0.2),
                     ("tbi" in dx, 0.04))
    if not bs and r() < p_lpd:
        _periodic(c, "lpds", "lpd", (0.5, 2.0), (60, 180), 0.7, side=c.patient.lesion_side)
    p_gpd = noisy_or(0.0005, (anoxic, 0.3),
                     ("cefepime" in meds, 0.4 if "renal_failure" in dx else 0.2),
                     ("baclofen" in meds, 0.3), ("lithium" in meds, 0.06),
                     ("metabolic_encephalopathy" in dx, 0.05), ("status_epilepticus" in dx, 0.15),
                     ("toxic_encephalopathy" in dx, 0.15))
    if not bs and r() < p_gpd:
        _periodic(c, "gpds", "gpd", (0.5, 2.5), (60, 180), 0.6)
    p_tw = noisy_or(0.0, ("hepatic_encephalopathy" in dx, 0.35),
                    ("metabolic_encephalopathy" in dx, 0.12), ("renal_failure" in dx, 0.08),
                    ("cefepime" in meds, 0.15), ("lithium" in meds and c.age >= 55, 0.15))
    if not bs and "gpds" not in c.b.findings and r() < p_tw:
        # lag_s is drawn before the pattern's intervals (argument evaluation order)
        _periodic(c, "triphasic_waves", "triphasic", (1.5, 2.5), (70, 180), 0.4,
                  lag_s=round(float(rng.uniform(0.025, 0.06)), 3))


def plan_firda(c: PlanContext) -> None:
    """Bursts of bifrontal rhythmic delta (encephalopathy, dementia, deep lesions)."""
    rng, r, T, dx, b = c.rng, c.rng.random, c.T, c.dx, c.b
    dementia = c.dementia
    p_firda = noisy_or(0.008, ("metabolic_encephalopathy" in dx, 0.12),
                       ("hepatic_encephalopathy" in dx, 0.12), ("toxic_encephalopathy" in dx, 0.1),
                       (dementia, 0.06), ("brain_tumor" in dx, 0.05),
                       ("altered_mental_status" in dx, 0.05))
    if not c.bs and r() < p_firda:
        rate = float(rng.uniform(0.5, 3.0))
        iv = draw_intervals(rng, T, 0.5, len_frac=(0.15, 0.4), min_len=60.0)
        times = poisson_times(rng, iv, rate, refractory=10.0)
        for t in times:
            dur = float(rng.uniform(2.0, 8.0))
            if t + dur < T:
                f = float(rng.uniform(2.0, 3.0))
                b.event("firda", t, dur, "firda", amp=float(rng.uniform(50, 130)), freq=f)
                b.episodes.append(Episode("firda", "finding", float(t), dur, {"frequency_hz": f}))
        n = sum(1 for e in b.events if e.kind == "firda")
        if n:
            b.findings["firda"] = {"n_bursts": n}


def plan_seizures(c: PlanContext) -> None:
    """Electrographic seizures: evolving rhythmic discharge, then post-ictal slowing."""
    rng, r, T, dx, b = c.rng, c.rng.random, c.T, c.dx, c.b
    anoxic, structural, asm_factor = c.anoxic, c.structural, c.asm_factor
    lesion, focus = c.patient.lesion_side, c.patient.focus
    if c.icu:
        p_sz = noisy_or(0.0, ("status_epilepticus" in dx, 0.4), (structural, 0.08),
                        ("cns_infection" in dx, 0.12), (anoxic, 0.1),
                        ("focal_epilepsy" in dx, 0.1))
        n_max = 4
    elif c.patient.setting == "emu":
        p_sz = noisy_or(0.0, ("focal_epilepsy" in dx, 0.2), ("generalized_epilepsy" in dx, 0.08),
                        ("epilepsy_unspecified" in dx, 0.1), ("jme" in dx, 0.05))
        n_max = 1
    else:
        p_sz = noisy_or(0.0, (bool(dx & set(EPILEPSY)), 0.015))
        n_max = 1
    p_sz *= asm_factor * (0.5 if c.med_info["anesthetic_dose"] else 1.0)
    if not c.bs and r() < p_sz and T >= 40:
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
