"""Session plans: everything latent about one session, drawn from ``(seed, session_id)`` alone.

A plan holds the session's medications, state timeline (awake / drowsy / N2 / N3 / coma, eyes
open, hyperventilation, photic stimulation), its true findings with their time intervals
(``episodes``) and every transient to render (``events``). The signal, the report and the oracle
are all derived from the plan, so they agree by construction.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from clef.synth.patients import STREAM_PLAN, draw_patient, patient_rng
from clef.synth.plan_artifacts import (
    plan_ecg,
    plan_electrode_artifacts,
    plan_eye_artifacts,
    plan_muscle,
)
from clef.synth.plan_findings import (
    plan_burst_suppression,
    plan_excess_beta,
    plan_firda,
    plan_focal_ieds,
    plan_focal_slowing_and_asymmetry,
    plan_generalized_slowing,
    plan_periodic_patterns,
    plan_polyspikes,
    plan_seizures,
    plan_spike_and_wave,
)
from clef.synth.plan_normal import (
    plan_activation_responses,
    plan_consciousness,
    plan_pdr,
    plan_sleep_transients,
    plan_timeline,
)
from clef.synth.plan_timeline import PHOTIC_RATES, draw_session_meds
from clef.synth.plan_types import Episode, Event, PlanBuilder, PlanContext, SessionPlan
from clef.synth.sites import get_site

DEFAULT_DURATION_S = 1200  # 20 minutes: session ids without a "-D<seconds>" suffix
_ID_RE = re.compile(r"^([A-Z])-P(\d{6})-S(\d)(?:-D(\d+))?$")


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


# The planning steps, in the order they draw from the session's plan stream. The order is part of
# the generator's output: reordering steps changes every cohort (tests/test_synth_golden.py).
PLAN_STEPS: tuple[Callable[[PlanContext], None], ...] = (
    plan_consciousness,
    plan_timeline,
    plan_pdr,
    plan_burst_suppression,
    plan_generalized_slowing,
    plan_focal_slowing_and_asymmetry,
    plan_excess_beta,
    plan_focal_ieds,
    plan_spike_and_wave,
    plan_polyspikes,
    plan_periodic_patterns,
    plan_firda,
    plan_seizures,
    plan_sleep_transients,
    plan_activation_responses,
    plan_eye_artifacts,
    plan_muscle,
    plan_electrode_artifacts,
    plan_ecg,
)


def start_context(seed: int, session_id: str, duration_s: float | None = None) -> PlanContext:
    """The patient, session age and medications of one session: the context the steps extend.

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
    PlanContext
    """
    site_name, pidx, sidx, dur = parse_session_id(session_id)
    site = get_site(site_name)
    patient = draw_patient(seed, site, pidx)
    T = float(duration_s if duration_s is not None else dur)
    rng = patient_rng(seed, site, pidx, sidx + 1, STREAM_PLAN)
    if patient.setting == "icu":
        age = patient.age + sidx / 365.0
    else:
        age = patient.age + sidx * rng.uniform(0.1, 1.5)
    meds_list, med_info = draw_session_meds(rng, patient)
    return PlanContext(session_id, patient, site, sidx, T, rng, float(age), set(meds_list),
                       med_info, PlanBuilder(T))


def plan_session(seed: int, session_id: str, duration_s: float | None = None) -> SessionPlan:
    """Draw the full latent plan of one session from ``(seed, session_id)``.

    Parameters
    ----------
    seed, session_id, duration_s
        As in :func:`start_context`.

    Returns
    -------
    SessionPlan
    """
    c = start_context(seed, session_id, duration_s)
    for step in PLAN_STEPS:
        step(c)
    # per-session channel gain (electrode impedance) and noise seed are drawn in the signal stage
    b = c.b
    b.episodes.sort(key=lambda e: (e.onset, e.concept))
    b.events.sort(key=lambda e: (e.onset, e.kind))
    return SessionPlan(session_id, c.patient, c.site, c.session_index, c.T, c.age,
                       sorted(c.meds), c.consciousness, b.findings, b.artifacts, c.states,
                       c.eyes_open, c.hv, c.photic, b.episodes, b.events, c.sig)


__all__ = ["DEFAULT_DURATION_S", "PHOTIC_RATES", "PLAN_STEPS", "Episode", "Event", "PlanContext",
           "SessionPlan", "make_session_id", "parse_session_id", "plan_session", "start_context"]
