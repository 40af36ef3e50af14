"""Planning steps for artifacts (distractors, not clinical findings): eye blinks, eye movements,
muscle, electrode pops, line noise and ECG.

Each step takes the session's :class:`~clef.synth.plan_types.PlanContext` and draws from its plan
stream; the order of the steps (``clef.synth.plan.PLAN_STEPS``) is part of the output.
"""
from __future__ import annotations

from clef.synth.plan_types import PlanContext, draw_intervals, poisson_times


def plan_eye_artifacts(c: PlanContext) -> None:
    """Blinks (mostly with eyes open), lateral eye movements and slow roving in drowsiness."""
    rng, r, b = c.rng, c.rng.random, c.b
    awake_iv, drowsy_iv, eyes_open = c.state_intervals("awake"), c.state_intervals("drowsy"), \
        c.eyes_open
    awake_total = sum(d for _, d in awake_iv)
    if awake_total > 0 and r() < 0.95:
        eo = eyes_open
        times = list(poisson_times(rng, eo, float(rng.uniform(8, 20)), refractory=1.0))
        times += list(poisson_times(rng, awake_iv, 1.5, refractory=1.0))
        times = sorted(times)
        for t in times:
            b.event("blink", t, 0.4, "eye_blinks", amp=float(rng.uniform(80, 200)))
        if times:
            b.finding("eye_blinks", eo or awake_iv, "artifact", n_events=len(times))
    if awake_total > 0 and r() < 0.7:
        times = poisson_times(rng, eyes_open or awake_iv, float(rng.uniform(1, 5)),
                              refractory=2.0)
        for t in times:
            b.event("eye_move", t, float(rng.uniform(0.5, 2.0)), "eye_movements",
                    amp=float(rng.uniform(40, 100)) * (1 if rng.random() < 0.5 else -1))
        for s, d in drowsy_iv:
            b.event("roving", s, min(d, 60.0), "eye_movements", amp=float(rng.uniform(30, 80)),
                    freq=float(rng.uniform(0.2, 0.5)))
        if times.size or drowsy_iv:
            b.finding("eye_movements", eyes_open or awake_iv, "artifact")


def plan_muscle(c: PlanContext) -> None:
    """Bursts of muscle activity (not in coma)."""
    rng, r, b = c.rng, c.rng.random, c.b
    awake_iv = c.state_intervals("awake")
    if c.consciousness != "coma" and r() < (0.35 if c.icu else 0.6):
        times = poisson_times(rng, awake_iv or c.whole, float(rng.uniform(0.3, 2.5)),
                              refractory=5.0)
        for t in times:
            b.event("muscle", t, float(rng.uniform(1.0, 8.0)), "muscle",
                    amp=float(rng.uniform(10, 50)), side=str(rng.choice(["left", "right", "both"])))
        if times.size:
            b.finding("muscle", awake_iv or c.whole, "artifact", n_events=int(times.size))


def plan_electrode_artifacts(c: PlanContext) -> None:
    """Electrode pops on one channel; line noise on 1-3 high-impedance channels."""
    rng, r, b, T, site = c.rng, c.rng.random, c.b, c.T, c.site
    if r() < min(0.9, 0.25 * site.pop_rate):
        ch = int(rng.integers(0, 19))
        iv = draw_intervals(rng, T, 0.2, n_range=(1, 2), len_frac=(0.05, 0.2))
        times = poisson_times(rng, iv, float(rng.uniform(1, 6)), refractory=1.0)
        for t in times:
            b.event("pop", t, 1.5, "electrode_pop", channel=ch, amp=float(rng.uniform(100, 500)))
        if times.size:
            b.finding("electrode_pop", iv, "artifact", channel=ch, n_events=int(times.size))
    if r() < 0.3:
        chans = sorted(int(c) for c in rng.choice(19, size=int(rng.integers(1, 4)), replace=False))
        iv = draw_intervals(rng, T, 0.4, n_range=(1, 2), len_frac=(0.1, 0.4))
        amp = float(rng.uniform(10, 60))
        for s, d in iv:
            b.event("line", s, d, "line_noise", channels=chans, amp=amp)
        b.finding("line_noise", iv, "artifact", channels=chans, frequency_hz=site.line_freq)


def plan_ecg(c: PlanContext) -> None:
    """ECG pickup (more with linked ears and in older patients) over the whole record."""
    rng, site = c.rng, c.site
    p_ecg = 0.3 + (0.25 if site.reference == "linked_ears" else 0) + (0.15 if c.age >= 65 else 0)
    if rng.random() < p_ecg:
        hr = c.patient.traits["heart_rate"] * float(rng.uniform(0.9, 1.1))
        amp = float(rng.uniform(5, 25))
        c.b.event("ecg", 0.0, c.T, "ecg_artifact", amp=amp, heart_rate=hr)
        c.b.finding("ecg_artifact", c.whole, "artifact", heart_rate_bpm=round(hr, 1))
