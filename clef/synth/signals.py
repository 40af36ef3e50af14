"""Signal synthesis: background (1/f aperiodic, PDR, theta, delta, beta, focal slowing) shaped in
the frequency domain, spread over the scalp by volume conduction, modulated over time by the state
timeline, plus the plan's events, then recorded the way the site records (reference, calibration,
line noise).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from clef.channels import CHANNEL_INDEX
from clef.synth.events import render_event
from clef.synth.geometry import distances, hemisphere_gain, mixing_matrix, region_topo
from clef.synth.patients import STREAM_SIGNAL, patient_rng
from clef.synth.plan import SessionPlan


@dataclass(frozen=True)
class SignalConfig:
    """Background levels (uV RMS at the topography maximum) for an awake adult."""

    aperiodic_uv: float = 9.0  # broadband 1/f background per channel
    theta_uv: float = 3.5  # awake baseline theta
    delta_uv: float = 3.5  # awake baseline delta
    beta_uv: float = 2.5  # normal frontocentral beta
    eyes_open_alpha: float = 0.22  # PDR amplitude with eyes open (reactivity)
    suppression_gain: float = 0.1  # background gain during burst suppression (< 10 uV)
    ctrl_hz: float = 10.0  # envelope control rate (Hz); envelopes are linear between points
    n_sources: int = 8  # sources for diffuse narrowband components


CONFIG = SignalConfig()
_SOURCE_SETS = {
    "diffuse": ("F3", "F4", "C3", "C4", "P3", "P4", "T7", "T8"),
    "posterior": ("O1", "O2", "P3", "P4"),
}


def _lead(names, width=0.5) -> np.ndarray:
    d = distances()
    idx = [CHANNEL_INDEX[n] for n in names]
    return np.exp(-d[:, idx] ** 2 / (2 * width ** 2)).astype(np.float32)  # (19, k)


def band_noise(rng: np.random.Generator, k: int, n: int, fs: float, shape) -> np.ndarray:
    """k unit-variance noise rows (k, n) whose amplitude spectrum is ``shape(freqs)``.

    Only bins where the shape is non-negligible get random coefficients (fast for narrow bands).
    """
    nfft = sfft.next_fast_len(n, real=True)
    f = np.fft.rfftfreq(nfft, 1 / fs)
    s = shape(f).astype(np.float32)
    s[0] = 0.0
    idx = np.nonzero(s > 1e-3 * s.max())[0]
    a, b = int(idx[0]), int(idx[-1]) + 1  # the band is contiguous: fill a slice
    spec = np.zeros((k, f.size), np.complex64)
    z = rng.standard_normal((k, 2 * (b - a)), dtype=np.float32).view(np.complex64)  # (k, b-a)
    z *= s[a:b]
    spec[:, a:b] = z
    x = sfft.irfft(spec, nfft, axis=1, norm="ortho")[:, :n]
    scale = np.sqrt(4.0 / nfft * float((s[a:b] ** 2).sum()))
    x *= np.float32(1.0 / scale)
    return x


def _gauss(mu, sd):
    return lambda f: np.exp(-0.5 * ((f - mu) / sd) ** 2)


class _Env:
    """Piecewise envelope on a control grid, interpolated to samples."""

    def __init__(self, T: float, fs: float, n: int, ctrl_hz: float):
        self.t = np.arange(int(np.ceil(T * ctrl_hz)) + 2) / ctrl_hz
        self.ctrl_hz = ctrl_hz
        self.ts = np.arange(n, dtype=np.float64) / fs

    def new(self, value: float = 0.0) -> np.ndarray:
        return np.full(self.t.size, value, np.float64)

    def fill(self, e: np.ndarray, intervals, value, mode="set") -> None:
        for s, d in intervals:
            m = (self.t >= s) & (self.t < s + d)
            if mode == "set":
                e[m] = value
            elif mode == "mul":
                e[m] *= value
            else:
                e[m] = np.maximum(e[m], value)

    def samples(self, e: np.ndarray, smooth_s: float = 0.5) -> np.ndarray:
        w = max(1, int(smooth_s * self.ctrl_hz))
        if w > 1:
            e = np.convolve(np.pad(e, (w, w), mode="edge"), np.ones(w) / w, "same")[w:-w]
        return np.interp(self.ts, self.t, e).astype(np.float32)


@dataclass
class _Canvas:
    """What the background layers share while one session's signal is rendered."""

    rng: np.random.Generator  # the session's signal stream
    env: _Env
    n: int  # samples
    fs: float  # Hz
    bg: np.ndarray  # (n,) whole-background gain (suppression, post-ictal attenuation)
    st: dict  # state name -> [(onset, duration)]
    amp: float  # patient amplitude trait
    g_slow: np.ndarray  # (19,) hemispheric gain of slow activity (asymmetry)
    g_fast: np.ndarray  # (19,) hemispheric gain of fast activity (asymmetry, stronger)

    def component(self, names, shape, level_env, topo_gain, smooth=0.5) -> np.ndarray:
        """Narrowband sources at ``names`` with spectrum ``shape``, envelope ``level_env``:
        (19, n) microvolts."""
        k = len(names)
        s = band_noise(self.rng, k, self.n, self.fs, shape)
        lead = _lead(names) * topo_gain[:, None]  # (19, k)
        lead /= np.sqrt((lead ** 2).sum(1, keepdims=True)).max() + 1e-9
        s *= (self.env.samples(level_env, smooth) * self.bg)[None, :]  # envelope on the k sources
        return lead @ s  # (19, n)


def _canvas(plan: SessionPlan, rng: np.random.Generator, config: SignalConfig) -> _Canvas:
    fs = plan.site.sfreq
    T = plan.duration_s
    n = round(T * fs)
    sig = plan.signal
    env = _Env(T, fs, n, config.ctrl_hz)
    st = {name: [(s, d) for s, d, nm in plan.states if nm == name]
          for name in ("awake", "drowsy", "n2", "n3", "coma")}
    post_ictal = [(e.onset + e.params["ictal_s"], e.duration - e.params["ictal_s"])
                  for e in plan.events if e.kind == "seizure"]
    asym = plan.findings.get("asymmetry")
    g_slow = hemisphere_gain(asym["side"], asym["ratio"]) if asym else np.ones(19, np.float32)
    g_fast = hemisphere_gain(asym["side"], asym["ratio"] * 0.75) if asym else g_slow
    # state gain of the whole background (suppression, post-ictal attenuation)
    e_bg = env.new(1.0)
    if sig["suppressed"]:
        e_bg[:] = config.suppression_gain
    env.fill(e_bg, post_ictal, 0.5, "mul")
    bg = env.samples(e_bg, 1.0)
    return _Canvas(rng, env, n, fs, bg, st, sig["amp"], g_slow, g_fast)


def _aperiodic(c: _Canvas, sig: dict, config: SignalConfig) -> np.ndarray:
    """1) aperiodic 1/f background: 19 independent sources mixed by volume conduction."""
    env, st = c.env, c.st
    expo = sig["exponent"]
    x = band_noise(c.rng, 19, c.n, c.fs, lambda f: (f + 1.0) ** (-expo / 2) * (f > 0.3))
    e = env.new(1.0)
    for name, g in (("drowsy", 1.1), ("n2", 1.3), ("n3", 1.5), ("coma", 0.9)):
        env.fill(e, st[name], g)
    x *= (env.samples(e) * c.bg)[None, :]
    return (mixing_matrix() * (config.aperiodic_uv * c.amp * c.g_fast)[:, None]) @ x  # (19, n)


def _pdr(c: _Canvas, plan: SessionPlan, config: SignalConfig) -> np.ndarray | None:
    """2) posterior dominant rhythm (eyes closed, awake), reactive to eye opening."""
    sig, env, st = plan.signal, c.env, c.st
    if not sig["pdr_hz"]:
        return None
    e = env.new(0.0)
    env.fill(e, st["awake"], 1.0)
    env.fill(e, plan.eyes_open, config.eyes_open_alpha, "mul")
    env.fill(e, st["drowsy"][:1], 0.3)  # alpha drops out with drowsiness
    e *= sig["pdr_amp"] * c.amp
    posterior = region_topo("posterior") * c.g_fast
    right = np.array([1.0, sig.get("pdr_asym", 1.0), 1.0, 1.0], np.float32)
    s = band_noise(c.rng, 4, c.n, c.fs, _gauss(sig["pdr_hz"], 0.22))
    lead = _lead(_SOURCE_SETS["posterior"], 0.4) * right[None, :] * posterior[:, None]
    lead /= np.sqrt((lead ** 2).sum(1, keepdims=True)).max()
    s *= (env.samples(e, 0.4) * c.bg)[None, :]
    return lead @ s


def _slow_and_fast(c: _Canvas, data: np.ndarray, sig: dict, config: SignalConfig) -> None:
    """3) theta, 4) delta (states, generalized slowing) and 5) beta, added to ``data``."""
    env, st, amp = c.env, c.st, c.amp
    fc = region_topo("frontocentral")
    e = env.new(config.theta_uv)
    env.fill(e, st["drowsy"], 10.0)
    env.fill(e, st["n2"], 8.0)
    env.fill(e, st["n3"], 8.0)
    env.fill(e, st["coma"], 6.0)
    if sig["theta"]:
        env.fill(e, sig["slowing_intervals"], sig["theta"], "max")
    data += c.component(_SOURCE_SETS["diffuse"], _gauss(5.5, 1.1), e * amp,
                        (0.6 + 0.4 * fc) * c.g_slow, 2.0)
    e = env.new(config.delta_uv)
    env.fill(e, st["drowsy"], 5.0)
    env.fill(e, st["n2"], 12.0)
    env.fill(e, st["n3"], sig.get("n3_delta", 45.0))
    env.fill(e, st["coma"], 12.0)
    if sig["delta"]:
        env.fill(e, sig["slowing_intervals"], sig["delta"], "max")
    data += c.component(_SOURCE_SETS["diffuse"], lambda f: _gauss(1.6, 0.9)(f) * (f > 0.4),
                        e * amp, (0.5 + 0.5 * fc) * c.g_slow, 2.0)
    e = env.new(config.beta_uv * sig["beta"])  # normal frontocentral; excess with sedatives
    env.fill(e, st["drowsy"], config.beta_uv * sig["beta"] * 1.3)
    data += c.component(("F3", "F4", "Fz", "C3", "C4", "Cz"), _gauss(19.0, 4.0), e * amp,
                        fc * c.g_fast)


_FOCAL_CENTERS = {("temporal", "left"): ("F7", "T7", "P7"), ("temporal", "right"): ("F8", "T8", "P8"),
                  ("frontal", "left"): ("F3", "Fp1", "F7"), ("frontal", "right"): ("F4", "Fp2", "F8")}


def _focal_delta(c: _Canvas, data: np.ndarray, plan: SessionPlan) -> None:
    """6) focal polymorphic delta over each focal-slowing finding's region, during its episodes."""
    for name, params in plan.findings.items():
        if not name.startswith("focal_slowing"):
            continue
        region = "frontal" if name.endswith("frontal") else "temporal"
        centers = _FOCAL_CENTERS[(region, params["side"])]
        e = c.env.new(0.0)
        c.env.fill(e, [(ep.onset, ep.duration) for ep in plan.episodes if ep.concept == name],
                   params["amp_uv"])
        data += c.component(centers, lambda f: _gauss(1.8, 0.8)(f) * (f > 0.5), e,
                            np.ones(19, np.float32), 3.0)


def _recording_chain(data: np.ndarray, plan: SessionPlan, rng: np.random.Generator) -> np.ndarray:
    """8) the site's recording chain: reference, calibration, mains pickup."""
    site = plan.site
    n, fs = data.shape[1], site.sfreq
    ci = CHANNEL_INDEX
    if site.reference == "vertex":
        ref = 0.5 * (data[ci["Cz"]] + data[ci["Pz"]])
    elif site.reference == "linked_ears":
        ref = 0.3 * 0.5 * (data[ci["T7"]] + data[ci["T8"]])
    else:
        ref = data.mean(0)
    data -= ref[None, :]
    gain = site.gain * (1.0 + 0.03 * rng.standard_normal(19)).astype(np.float32)
    data *= gain[:, None].astype(np.float32)
    t = np.arange(n, dtype=np.float64) / fs
    line = np.sin(2 * np.pi * site.line_freq * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
    data += np.outer(site.line_uv * rng.uniform(0.5, 1.5, 19), line).astype(np.float32)
    return data.astype(np.float32, copy=False)


def synthesize(plan: SessionPlan, config: SignalConfig = CONFIG):
    """Render a plan into the site's recorded signal.

    Parameters
    ----------
    plan : SessionPlan
    config : SignalConfig

    Returns
    -------
    data : np.ndarray
        (19, samples) float32 microvolts, as recorded by the site (reference, calibration, line
        noise included).
    notes : list
        Extra facts learned while rendering (e.g. number of heart beats).
    """
    site, pat = plan.site, plan.patient
    rng = patient_rng(pat.seed, site, pat.index, plan.session_index + 1, STREAM_SIGNAL)
    # the layers draw from the signal stream in this order
    c = _canvas(plan, rng, config)
    data = _aperiodic(c, plan.signal, config)  # (19, n)
    pdr = _pdr(c, plan, config)
    if pdr is not None:
        data += pdr
    _slow_and_fast(c, data, plan.signal, config)
    _focal_delta(c, data, plan)
    notes: list = []
    for ev in plan.events:  # 7) events
        render_event(data, ev, site.sfreq, rng, site.line_freq, notes)
    return _recording_chain(data, plan, rng), notes
