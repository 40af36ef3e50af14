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
    fs = site.sfreq
    T = plan.duration_s
    n = round(T * fs)
    rng = patient_rng(pat.seed, site, pat.index, plan.session_index + 1, STREAM_SIGNAL)
    sig = plan.signal
    env = _Env(T, fs, n, config.ctrl_hz)
    st = {name: [(s, d) for s, d, nm in plan.states if nm == name]
          for name in ("awake", "drowsy", "n2", "n3", "coma")}
    amp = sig["amp"]
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

    # 1) aperiodic 1/f background: 19 independent sources mixed by volume conduction
    expo = sig["exponent"]
    x = band_noise(rng, 19, n, fs, lambda f: (f + 1.0) ** (-expo / 2) * (f > 0.3))
    e = env.new(1.0)
    for name, g in (("drowsy", 1.1), ("n2", 1.3), ("n3", 1.5), ("coma", 0.9)):
        env.fill(e, st[name], g)
    x *= (env.samples(e) * bg)[None, :]
    data = (mixing_matrix() * (config.aperiodic_uv * amp * g_fast)[:, None]) @ x  # (19, n)
    del x

    def component(names, shape, level_env, topo_gain, smooth=0.5):
        k = len(names)
        s = band_noise(rng, k, n, fs, shape)
        lead = _lead(names) * topo_gain[:, None]  # (19, k)
        lead /= np.sqrt((lead ** 2).sum(1, keepdims=True)).max() + 1e-9
        s *= (env.samples(level_env, smooth) * bg)[None, :]  # envelope on the k sources
        return lead @ s  # (19, n)

    # 2) posterior dominant rhythm (eyes closed, awake), reactive to eye opening
    if sig["pdr_hz"]:
        e = env.new(0.0)
        env.fill(e, st["awake"], 1.0)
        env.fill(e, plan.eyes_open, config.eyes_open_alpha, "mul")
        env.fill(e, st["drowsy"][:1], 0.3)  # alpha drops out with drowsiness
        e *= sig["pdr_amp"] * amp
        posterior = region_topo("posterior") * g_fast
        right = np.array([1.0, sig.get("pdr_asym", 1.0), 1.0, 1.0], np.float32)
        lead_w = posterior
        s = band_noise(rng, 4, n, fs, _gauss(sig["pdr_hz"], 0.22))
        lead = _lead(_SOURCE_SETS["posterior"], 0.4) * right[None, :] * lead_w[:, None]
        lead /= np.sqrt((lead ** 2).sum(1, keepdims=True)).max()
        s *= (env.samples(e, 0.4) * bg)[None, :]
        data += lead @ s

    # 3) theta (drowsiness, generalized slowing)
    fc = region_topo("frontocentral")
    e = env.new(config.theta_uv)
    env.fill(e, st["drowsy"], 10.0)
    env.fill(e, st["n2"], 8.0)
    env.fill(e, st["n3"], 8.0)
    env.fill(e, st["coma"], 6.0)
    if sig["theta"]:
        env.fill(e, sig["slowing_intervals"], sig["theta"], "max")
    data += component(_SOURCE_SETS["diffuse"], _gauss(5.5, 1.1), e * amp, (0.6 + 0.4 * fc) * g_slow, 2.0)

    # 4) delta (N3, generalized slowing, post-ictal)
    e = env.new(config.delta_uv)
    env.fill(e, st["drowsy"], 5.0)
    env.fill(e, st["n2"], 12.0)
    env.fill(e, st["n3"], sig.get("n3_delta", 45.0))
    env.fill(e, st["coma"], 12.0)
    if sig["delta"]:
        env.fill(e, sig["slowing_intervals"], sig["delta"], "max")
    data += component(_SOURCE_SETS["diffuse"], lambda f: _gauss(1.6, 0.9)(f) * (f > 0.4),
                      e * amp, (0.5 + 0.5 * fc) * g_slow, 2.0)

    # 5) beta (normal frontocentral; excess with sedatives)
    e = env.new(config.beta_uv * sig["beta"])
    env.fill(e, st["drowsy"], config.beta_uv * sig["beta"] * 1.3)
    data += component(("F3", "F4", "Fz", "C3", "C4", "Cz"), _gauss(19.0, 4.0), e * amp, fc * g_fast)

    # 6) focal polymorphic delta
    for name, params in plan.findings.items():
        if not name.startswith("focal_slowing"):
            continue
        region = "frontal" if name.endswith("frontal") else "temporal"
        centers = {("temporal", "left"): ("F7", "T7", "P7"), ("temporal", "right"): ("F8", "T8", "P8"),
                   ("frontal", "left"): ("F3", "Fp1", "F7"), ("frontal", "right"): ("F4", "Fp2", "F8")
                   }[(region, params["side"])]
        e = env.new(0.0)
        env.fill(e, [(ep.onset, ep.duration) for ep in plan.episodes if ep.concept == name],
                 params["amp_uv"])
        data += component(centers, lambda f: _gauss(1.8, 0.8)(f) * (f > 0.5), e,
                          np.ones(19, np.float32), 3.0)

    # 7) events
    notes: list = []
    for ev in plan.events:
        render_event(data, ev, fs, rng, site.line_freq, notes)

    # 8) the site's recording chain: reference, calibration, mains pickup
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
    return data.astype(np.float32, copy=False), notes
