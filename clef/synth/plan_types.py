"""Plan data types and drawing helpers shared by the planning steps.

``Episode`` / ``Event`` / ``SessionPlan`` are what a plan holds; :class:`PlanContext` is the
mutable state the planning steps of :mod:`clef.synth.plan` pass along (one per session).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter

import numpy as np

from clef.synth.ontology import ONTOLOGY
from clef.synth.patients import STRUCTURAL, Patient
from clef.synth.sites import SiteProfile

ASMS = tuple(c.name for c in ONTOLOGY.values() if c.drug_class == "antiseizure")
DEMENTIA = ("alzheimer_dementia", "dementia_unspecified")
ENCEPHALOPATHY = ("metabolic_encephalopathy", "hepatic_encephalopathy", "toxic_encephalopathy")


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

    # read through to the site and the patient (not fields: a plan cannot disagree with them)
    sfreq = property(attrgetter("site.sfreq"), doc="Sampling rate (Hz) of the session: its site's.")
    setting = property(attrgetter("patient.setting"),
                       doc='Recording setting ("outpatient", "emu" or "icu"): the patient\'s.')


def noisy_or(leak: float, *causes: tuple[bool, float]) -> float:
    """Noisy-OR probability: ``leak`` plus each active cause ``(active, p)`` independently."""
    q = 1.0 - leak
    for active, p in causes:
        if active:
            q *= 1.0 - p
    return 1.0 - q


def draw_intervals(rng, T: float, p_continuous: float, n_range=(1, 3), len_frac=(0.08, 0.3),
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


def state_at(states, t: float) -> str:
    """The state (name) at time ``t`` of a ``(onset, duration, state)`` timeline."""
    for s, d, name in states:
        if s <= t < s + d:
            return name
    return states[-1][2]


def poisson_times(rng, intervals, rate_per_min: float, states=None, state_gain=None,
                  refractory=0.3) -> np.ndarray:
    """Event times (s) of a Poisson process inside intervals, rate scaled by state."""
    gains = state_gain or {}
    gmax = max([1.0, *gains.values()])
    times = []
    for s, d in intervals:
        n = rng.poisson(rate_per_min / 60.0 * d * gmax)
        t = np.sort(rng.uniform(s, s + d, size=n))
        if states is not None and gains:
            keep = rng.random(n) < np.array([gains.get(state_at(states, x), 1.0) / gmax for x in t])
            t = t[keep]
        times.append(t)
    t = np.sort(np.concatenate(times)) if times else np.zeros(0)
    if t.size > 1:
        keep = np.concatenate([[True], np.diff(t) > refractory])
        t = t[keep]
    return t


class PlanBuilder:
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

@dataclass
class PlanContext:
    """Everything the planning steps share while one session's plan is drawn.

    The steps read and extend it in a fixed order (see ``clef.synth.plan.PLAN_STEPS``); every
    random draw comes from ``rng`` (the session's plan stream), so the order of steps and of
    draws inside each step is part of the generator's output.
    """

    session_id: str
    patient: Patient
    site: SiteProfile
    session_index: int
    T: float  # session length (s)
    rng: np.random.Generator
    age: float
    meds: set[str]
    med_info: dict  # {"intubated": bool, "anesthetic_dose": bool}
    b: PlanBuilder
    # set by the consciousness/timeline step
    bs: bool = False  # burst suppression decided
    consciousness: str = "awake"  # "awake", "lethargic", "coma"
    states: list = field(default_factory=list)  # (onset, duration, state)
    eyes_open: list = field(default_factory=list)  # (onset, duration)
    hv: tuple | None = None  # (onset, duration) of hyperventilation
    photic: list = field(default_factory=list)  # (onset, duration, flash Hz)
    sig: dict = field(default_factory=dict)  # background signal parameters

    @property
    def dx(self) -> set[str]:
        return set(self.patient.diagnoses)

    @property
    def icu(self) -> bool:
        return self.patient.setting == "icu"

    @property
    def dementia(self) -> bool:
        return bool(self.dx & set(DEMENTIA))

    @property
    def enceph(self) -> bool:
        return bool(self.dx & set(ENCEPHALOPATHY))

    @property
    def anoxic(self) -> bool:
        return "anoxic_brain_injury" in self.dx

    @property
    def structural(self) -> bool:
        return bool(self.dx & set(STRUCTURAL))

    @property
    def asm_factor(self) -> float:
        """Fewer discharges and seizures per antiseizure medication taken."""
        return 0.85 ** len(self.meds & set(ASMS))

    @property
    def whole(self) -> list[tuple[float, float]]:
        return [(0.0, self.T)]

    def state_intervals(self, name: str) -> list[tuple[float, float]]:
        """(onset, duration) of every interval in state ``name``."""
        return [(s, d) for s, d, n in self.states if n == name]
