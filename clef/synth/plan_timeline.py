"""Planning: the session's state timeline (wake, drowsiness, sleep, coma, eyes open, activation
procedures) and its medication list, drawn from the session's plan stream."""
from __future__ import annotations

from clef.synth.patients import EPILEPSY, STRUCTURAL, Patient
from clef.synth.plan_types import ASMS

PHOTIC_RATES = (1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 30)  # Hz, flash steps


def draw_timeline(rng, patient: Patient, T: float, consciousness: str, age: float):
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


def draw_session_meds(rng, patient: Patient) -> tuple[list[str], dict]:
    """Medications of this session (chronic list, ICU drugs, EMU taper) and ICU sedation facts."""
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
