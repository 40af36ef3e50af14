"""Short labelled segments for teaching figures: ``example("ied_left_temporal")``."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from clef.session import Session
from clef.synth.ontology import ONTOLOGY
from clef.synth.plan import SessionPlan, make_session_id, plan_session
from clef.synth.sites import get_site

EXAMPLE_SEED = 20260101  # fixed: examples are the same everywhere
_MAX_PATIENTS = 40000


def _has(plan: SessionPlan, concept: str) -> bool:
    c = ONTOLOGY[concept]
    if c.category in ("finding",):
        return concept in plan.findings
    if c.category == "artifact":
        return concept in plan.artifacts
    if c.category == "phenotype":
        return concept in plan.patient.diagnoses
    if c.category == "medication":
        return concept in plan.meds
    return {"female": plan.patient.sex == "F", "age_child": plan.age < 18,
            "age_elderly": plan.age >= 65, "setting_outpatient": plan.setting == "outpatient",
            "setting_emu": plan.setting == "emu", "setting_icu": plan.setting == "icu"}[concept]


@lru_cache(maxsize=128)
def find_example_session(concept: str, site: str = "A", seed: int = EXAMPLE_SEED) -> str:
    """First session id (scanning patients in order) whose plan has the concept."""
    if concept not in ONTOLOGY:
        raise ValueError(f"unknown concept {concept!r}; see clef.synth.concepts() for the "
                         f"{len(ONTOLOGY)} names, e.g. {sorted(ONTOLOGY)[:4]}")
    get_site(site)
    for p in range(_MAX_PATIENTS):
        sid = make_session_id(site, p, 0)
        if _has(plan_session(seed, sid), concept):
            return sid
    raise ValueError(f"no example of {concept!r} in the first {_MAX_PATIENTS} patients")


def _window_start(plan: SessionPlan, concept: str, seconds: float) -> float:
    T = plan.duration_s
    if concept == "hv_response" and plan.hv:  # end of hyperventilation: maximal build-up
        return float(np.clip(plan.hv[0] + plan.hv[1] - seconds, 0, T - seconds))
    evs = [e for e in plan.events if e.concept == concept]
    if evs:
        e = evs[len(evs) // 2] if concept not in ("seizure", "burst_suppression") else evs[0]
        lead = 3.0 if concept == "seizure" else max(0.0, 0.5 * (seconds - min(e.duration, seconds)))
        return float(np.clip(e.onset - lead, 0, T - seconds))
    eps = [e for e in plan.episodes if e.concept == concept]
    if concept in ("normal_pdr", "pdr_slowing", "excess_beta", "asymmetry", "generalized_slowing") \
            or concept.startswith("focal_slowing") or not eps:
        busy = [(s, d) for s, d in plan.eyes_open]
        busy += [(e.onset, e.duration) for e in plan.events if e.kind in ("blink", "eye_move",
                                                                          "muscle", "pop")]
        cands = eps or [type("E", (), {"onset": 0.0, "duration": T})()]
        for ep in cands:
            for t in np.arange(ep.onset + 5.0, ep.onset + ep.duration - seconds, 2.0):
                if not any(s < t + seconds and t < s + d for s, d in busy):
                    return float(t)
        return float(np.clip(cands[0].onset + 5.0, 0, T - seconds))
    return float(np.clip(eps[0].onset + 1.0, 0, T - seconds))


def example(concept: str, seconds: float = 10.0, site: str = "A") -> Session:
    """A short labelled segment showing a concept (finding, artifact, phenotype, medication...).

    Parameters
    ----------
    concept : str
        Ontology name (see :func:`clef.synth.concepts`).
    seconds : float
        Segment length.
    site : str
        Recording site (sets sampling rate, reference, line noise).

    Returns
    -------
    Session
        (19, seconds * sfreq) float32 volts; ``meta["concept"]``, ``meta["source_session_id"]``,
        ``meta["offset_s"]``; annotations inside the window, times relative to its start.
    """
    from clef.synth.cohort import session_from_plan

    if seconds <= 0:
        raise ValueError(f"seconds={seconds}; pass a positive length such as 10")
    sid = find_example_session(concept, site)
    plan = plan_session(EXAMPLE_SEED, sid)
    seconds = float(min(seconds, plan.duration_s))
    t0 = _window_start(plan, concept, seconds)
    full = session_from_plan(plan)
    a = round(t0 * full.sfreq)
    b = a + round(seconds * full.sfreq)
    ann = [(round(o - t0, 4), d, desc) for o, d, desc in full.annotations
           if o < t0 + seconds and o + d > t0]
    meta = dict(full.meta, concept=concept, source_session_id=sid, offset_s=t0,
                label=ONTOLOGY[concept].label, signature=ONTOLOGY[concept].signature)
    return Session(np.ascontiguousarray(full.data[:, a:b]), full.sfreq, list(full.ch_names), meta,
                   ann)
