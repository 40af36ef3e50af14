"""Waveforms of transient and rhythmic events, rendered into a (19, samples) microvolt array.

Each renderer takes the plan's ``Event``, the sampling rate and a generator, and adds its waveform
with its topography using numpy slicing (trains are built as 1-D impulse trains convolved with a
template, then spread over channels by an outer product).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from clef.synth.geometry import AP_ROW, ecg_topo, mixing_matrix, region_topo, topo


def _g(t: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((t - mu) / sd) ** 2)


def add(data: np.ndarray, start: int, topography: np.ndarray, wave: np.ndarray) -> None:
    """data[:, start:start+len(wave)] += topography x wave, clipped to the array."""
    n = data.shape[1]
    a, b = max(0, start), min(n, start + wave.shape[-1])
    if b <= a:
        return
    w = np.asarray(wave[..., a - start:b - start], dtype=np.float32)
    if w.ndim == 1:
        data[:, a:b] += np.asarray(topography, np.float32)[:, None] * w[None, :]
    else:
        data[:, a:b] += w


def spike_template(fs: float, amp: float, width: float, sharp: bool = False) -> np.ndarray:
    """Surface-negative spike (20-70 ms) or sharp wave (70-200 ms) with an after-going slow wave."""
    t = np.arange(int((width + 0.35) * fs)) / fs
    c = width / 2
    w = -amp * _g(t, c, width / 5)
    w += 0.25 * amp * _g(t, c + 0.45 * width, width / 4)
    w += -0.45 * amp * _g(t, width + 0.13, 0.06)
    return w


def _sw_cycle(fs: float, amp: float, period: float) -> np.ndarray:
    t = np.arange(int(period * fs)) / fs
    return (-0.6 * amp * _g(t, 0.03, 0.012) + 0.3 * amp * _g(t, 0.07, 0.02)
            - amp * _g(t, 0.03 + 0.5 * period, 0.15 * period))


def _train(n: int, fs: float, times: np.ndarray, amps: np.ndarray) -> np.ndarray:
    imp = np.zeros(n, np.float64)
    idx = np.round(np.asarray(times) * fs).astype(int)
    ok = (idx >= 0) & (idx < n)
    np.add.at(imp, idx[ok], np.asarray(amps)[ok])
    return imp


def _taper(n: int, fs: float, ramp_s: float = 0.3) -> np.ndarray:
    r = min(n // 2, max(1, int(ramp_s * fs)))
    w = np.ones(n)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, r))
    w[:r] = ramp
    w[n - r:] = ramp[::-1]
    return w


def _band_noise_1d(rng, n: int, fs: float, lo: float, hi: float) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[(f < lo) | (f > hi)] = 0
    x = np.fft.irfft(spec, n)
    return x / (x.std() + 1e-12)


@dataclass(frozen=True)
class RenderCall:
    """One event being rendered: the target array, the event and the session's render state."""

    data: np.ndarray  # (19, samples) microvolts, modified in place
    ev: object  # clef.synth.plan_types.Event
    fs: float  # Hz
    rng: np.random.Generator  # the session's signal stream
    line_freq: float  # Hz (50 or 60)
    notes: list  # (key, value) pairs reported in the session's meta

    @property
    def p(self) -> dict:
        return self.ev.params

    @property
    def s0(self) -> int:
        """First sample of the event."""
        return round(self.ev.onset * self.fs)

    @property
    def n(self) -> int:
        """Length of the event in samples (at least 1)."""
        return max(1, round(self.ev.duration * self.fs))


# -- epileptiform ---------------------------------------------------------------------------------
def _spike_or_sharp(c: RenderCall) -> None:
    p = c.p
    w = spike_template(c.fs, p["amp"], p["width"], c.ev.kind == "sharp")
    add(c.data, c.s0, region_topo(p["region"], p["side"], 0.38), w)


def _spike_and_wave(c: RenderCall) -> None:
    p, fs, dur = c.p, c.fs, c.ev.duration
    f0 = p["freq"]
    t, out = 0.0, []
    while t < dur - 0.2:
        f = f0 - 0.5 * t / dur  # slight slowing through the burst
        out.append(_sw_cycle(fs, p["amp"], 1 / f))
        t += 1 / f
    w = np.concatenate(out) * _taper(sum(len(o) for o in out), fs, 0.25)
    add(c.data, c.s0, region_topo("generalized"), w)


def _polyspike(c: RenderCall) -> None:
    p, fs = c.p, c.fs
    period = 1 / p["freq"]
    cyc = int(period * fs)
    tt = np.arange(cyc) / fs
    nsp = int(c.rng.integers(3, 6))
    w1 = sum(-0.7 * p["amp"] * _g(tt, 0.02 + i / 16.0, 0.01) for i in range(nsp))
    w1 = w1 - 0.6 * p["amp"] * _g(tt, min(period * 0.8, nsp / 16.0 + 0.08), 0.05)
    reps = max(1, int(c.ev.duration / period))
    w = np.tile(w1, reps) * _taper(cyc * reps, fs, 0.1)
    add(c.data, c.s0, region_topo("generalized"), w)


# -- periodic discharges: an impulse train (one amplitude per discharge) convolved with a shape --
def _discharge_train(c: RenderCall, template: np.ndarray) -> np.ndarray:
    times = np.asarray(c.p["times"])
    amps = c.p["amp"] * c.rng.uniform(0.75, 1.25, size=times.size)
    return fftconvolve(_train(c.n, c.fs, times, amps), template)[:c.n]


def _lpd(c: RenderCall) -> None:
    w = _discharge_train(c, spike_template(c.fs, 1.0, 0.12, True))
    add(c.data, c.s0, topo(["T7", "C3"] if c.p["side"] == "left" else ["T8", "C4"], 0.38), w)


def _gpd(c: RenderCall) -> None:
    w = _discharge_train(c, spike_template(c.fs, 1.0, 0.12, True))
    add(c.data, c.s0, region_topo("generalized"), w)


def _triphasic(c: RenderCall) -> None:
    tt = np.arange(int(0.45 * c.fs)) / c.fs
    tpl = (-0.3 * _g(tt, 0.04, 0.02) + 1.0 * _g(tt, 0.12, 0.04) - 0.55 * _g(tt, 0.27, 0.07))
    w = _discharge_train(c, tpl)
    base = region_topo("generalized") ** 1.5
    lag = round(c.p["lag_s"] * c.fs)
    for row in range(5):  # anterior-posterior lag, one row of electrodes at a time
        m = (AP_ROW == row).astype(np.float32) * base
        add(c.data, c.s0 + row * lag, m, w)


# -- rhythmic and background-replacing patterns ----------------------------------------------------
def _firda(c: RenderCall) -> None:
    n, fs, p = c.n, c.fs, c.p
    t = np.arange(n) / fs
    w = p["amp"] * np.sin(2 * np.pi * p["freq"] * t + c.rng.uniform(0, 2 * np.pi))
    add(c.data, c.s0, region_topo("bifrontal"), w * _taper(n, fs, 0.6))


def _bs_burst(c: RenderCall) -> None:
    n, fs, p, rng = c.n, c.fs, c.p, c.rng
    x = np.stack([_band_noise_1d(rng, n, fs, 0.8, 14.0) for _ in range(4)])  # (4, n)
    lead = np.stack([region_topo(r, sd) for r, sd in
                     (("frontal", "left"), ("frontal", "right"), ("temporal", "left"),
                      ("temporal", "right"))], 1)  # (19, 4)
    lead = lead + 0.6
    w = (lead @ x) * (p["amp"] / 2.5) * _taper(n, fs, 0.15)  # (19, n)
    sharp = spike_template(fs, p["amp"] * 0.8, 0.09, True)
    add(c.data, c.s0, None, w)
    add(c.data, c.s0 + int(rng.integers(0, max(1, n // 3))), region_topo("generalized"), sharp)


def _seizure(c: RenderCall) -> None:
    n, fs, p, rng, s0 = c.n, c.fs, c.p, c.rng, c.s0
    ictal = round(p["ictal_s"] * fs)
    post = n - ictal
    t = np.arange(ictal) / fs
    frac = t / max(t[-1], 1e-9)
    f = p["f0"] + (p["f1"] - p["f0"]) * frac ** 0.8
    phi = 2 * np.pi * np.cumsum(f) / fs + rng.uniform(0, 2 * np.pi)
    wave = np.sin(phi) + 0.35 * np.sin(2 * phi + 0.8) + 0.12 * np.sin(3 * phi + 1.2)
    amp = p["amp"] * (0.25 + 0.75 * np.minimum(1, frac / 0.35)) * _taper(ictal, fs, 1.0)
    w = wave * amp
    if p["region"] == "generalized":
        add(c.data, s0, region_topo("generalized"), w)
    else:  # focal onset spreading over the hemisphere
        early = region_topo(p["region"], p["side"], 0.35)
        late = region_topo("hemisphere", p["side"])
        late = np.maximum(late, 0.45 * region_topo("generalized"))
        spread = np.clip((frac - 0.15) / 0.5, 0, 1)
        add(c.data, s0, early, w * (1 - spread))
        add(c.data, s0, late, w * spread)
    if post > 0:  # post-ictal slowing, decaying
        d = _band_noise_1d(rng, post, fs, 0.5, 3.0) * 35.0
        d *= np.exp(-np.arange(post) / (0.5 * post))
        tp = (region_topo("generalized") if p["region"] == "generalized"
              else region_topo("hemisphere", p["side"]))
        add(c.data, s0 + ictal, tp, d)


# -- sleep transients and activation responses -----------------------------------------------------
def _vertex(c: RenderCall) -> None:
    tt = np.arange(int(0.4 * c.fs)) / c.fs
    w = -c.p["amp"] * _g(tt, 0.1, 0.035) + 0.3 * c.p["amp"] * _g(tt, 0.2, 0.05)
    add(c.data, c.s0, region_topo("vertex"), w)


def _spindle(c: RenderCall) -> None:
    t = np.arange(c.n) / c.fs
    env = np.sin(np.pi * t / c.ev.duration) ** 2
    w = c.p["amp"] * env * np.sin(2 * np.pi * c.p["freq"] * t + c.rng.uniform(0, 2 * np.pi))
    add(c.data, c.s0, region_topo("central"), w * 1.3)


def _kcomplex(c: RenderCall) -> None:
    tt = np.arange(int(1.0 * c.fs)) / c.fs
    w = -c.p["amp"] * _g(tt, 0.2, 0.08) + 0.55 * c.p["amp"] * _g(tt, 0.55, 0.13)
    add(c.data, c.s0, topo(["Fz", "Cz"], 0.33), w)


def _photic(c: RenderCall) -> None:
    n, fs, p = c.n, c.fs, c.p
    t = np.arange(n) / fs
    f = p["freq"]
    w = np.sin(2 * np.pi * f * t)
    if 2 * f < fs / 2:  # first harmonic when below Nyquist
        w = w + 0.4 * np.sin(4 * np.pi * f * t + 0.5)
    add(c.data, c.s0, region_topo("occipital"), p["amp"] * w * _taper(n, fs, 0.3))


def _hv(c: RenderCall) -> None:
    n, fs, p, rng, dur = c.n, c.fs, c.p, c.rng, c.ev.duration
    t = np.arange(n) / fs
    hv_len = max(1.0, dur - 60.0) if dur > 90 else dur * 0.75
    env = np.where(t < hv_len, (t / hv_len) ** 1.5, np.exp(-(t - hv_len) / 15.0))
    mod = 0.6 + 0.4 * np.abs(_band_noise_1d(rng, n, fs, 0.01, 0.15))
    w = 0.7 * np.sin(2 * np.pi * p["freq"] * t) + 0.5 * _band_noise_1d(rng, n, fs, 1.0, 3.5)
    add(c.data, c.s0, region_topo("generalized"), p["amp"] * env * np.minimum(mod, 1.5) * w)


# -- artifacts --------------------------------------------------------------------------------------
def _blink(c: RenderCall) -> None:
    tt = np.arange(int(0.4 * c.fs)) / c.fs
    w = c.p["amp"] * np.sin(np.pi * tt / 0.4) ** 3
    add(c.data, c.s0, topo(["Fp1", "Fp2"], 0.32), w)


def _eye_move(c: RenderCall) -> None:
    t = np.arange(c.n) / c.fs
    dur = c.ev.duration
    step = 1 / (1 + np.exp(-(t - 0.03) / 0.01)) - 1 / (1 + np.exp(-(t - dur + 0.05) / 0.02))
    tp = topo(["F7"], 0.35) - topo(["F8"], 0.35)
    add(c.data, c.s0, tp, c.p["amp"] * step)


def _roving(c: RenderCall) -> None:
    t = np.arange(c.n) / c.fs
    w = c.p["amp"] * np.sin(2 * np.pi * c.p["freq"] * t) * _taper(c.n, c.fs, 2.0)
    add(c.data, c.s0, topo(["F7"], 0.35) - topo(["F8"], 0.35), w)


def _muscle(c: RenderCall) -> None:
    n, fs, p, rng = c.n, c.fs, c.p, c.rng
    hi = min(70.0, 0.45 * fs)
    x = _band_noise_1d(rng, n, fs, 20.0, hi) * p["amp"] * _taper(n, fs, 0.2)
    side = p["side"]
    tp = (topo(["F7", "T7", "F8", "T8"], 0.35) if side == "both"
          else region_topo("temporal", side, 0.4))
    # muscle is local: give each channel its own mixture to avoid a single coherent source
    y = np.stack([x, np.roll(x, int(0.013 * fs)), np.roll(x, int(0.029 * fs))])  # (3, n)
    mix = rng.uniform(0, 1, size=(19, 3)).astype(np.float32)
    add(c.data, c.s0, None, (tp[:, None] * (mix @ y)) / 1.5)


def _pop(c: RenderCall) -> None:
    tt = np.arange(c.n) / c.fs
    tau = c.rng.uniform(0.1, 0.5)
    w = c.p["amp"] * np.exp(-tt / tau)
    m = np.zeros(19, np.float32)
    m[c.p["channel"]] = 1.0
    add(c.data, c.s0, m, w)


def _line(c: RenderCall) -> None:
    t = np.arange(c.n) / c.fs
    w = c.p["amp"] * np.sin(2 * np.pi * c.line_freq * t + c.rng.uniform(0, 2 * np.pi))
    m = np.zeros(19, np.float32)
    m[c.p["channels"]] = 1.0
    add(c.data, c.s0, m, w * _taper(c.n, c.fs, 0.5))


def _ecg(c: RenderCall) -> None:
    n, fs, p, rng, dur = c.n, c.fs, c.p, c.rng, c.ev.duration
    rr = 60.0 / p["heart_rate"]
    nb = int(dur / rr) + 2
    beats = np.cumsum(rr * (1 + 0.04 * rng.standard_normal(nb))) - rr * rng.uniform(0, 1)
    beats = beats[(beats >= 0) & (beats < dur - 0.5)]
    tt = np.arange(int(0.5 * fs)) / fs
    tpl = (-0.15 * _g(tt, 0.04, 0.008) + 1.0 * _g(tt, 0.06, 0.01) - 0.3 * _g(tt, 0.08, 0.01)
           + 0.25 * _g(tt, 0.3, 0.05))
    w = fftconvolve(_train(n, fs, beats, np.full(beats.size, p["amp"])), tpl)[:n]
    add(c.data, c.s0, ecg_topo(), w)
    c.notes.append(("ecg_beats", int(beats.size)))


# Event kind (as planned in clef.synth.plan_*) -> renderer.
RENDERERS: dict[str, Callable[[RenderCall], None]] = {
    "spike": _spike_or_sharp, "sharp": _spike_or_sharp, "gsw": _spike_and_wave,
    "polyspike": _polyspike, "lpd": _lpd, "gpd": _gpd, "triphasic": _triphasic,
    "firda": _firda, "bs_burst": _bs_burst, "seizure": _seizure, "vertex": _vertex,
    "spindle": _spindle, "kcomplex": _kcomplex, "photic": _photic, "hv": _hv, "blink": _blink,
    "eye_move": _eye_move, "roving": _roving, "muscle": _muscle, "pop": _pop, "line": _line,
    "ecg": _ecg,
}


def render_event(data: np.ndarray, ev, fs: float, rng: np.random.Generator, line_freq: float,
                 notes: list) -> None:
    """Add one event's waveform to ``data`` (19, samples) in microvolts.

    Parameters
    ----------
    data : numpy.ndarray
        (19, samples) float32 microvolts, modified in place.
    ev : clef.synth.plan_types.Event
        The event; ``ev.kind`` selects the renderer in ``RENDERERS``.
    fs : float
        Sampling rate (Hz).
    rng : numpy.random.Generator
        The session's signal stream (renderers draw phases, jitter and noise from it).
    line_freq : float
        Mains frequency (Hz) for line-noise events.
    notes : list
        (key, value) pairs for the session's meta (e.g. the number of ECG beats).

    Raises
    ------
    ValueError
        Unknown event kind.
    """
    renderer = RENDERERS.get(ev.kind)
    if renderer is None:
        raise ValueError(f"unknown event kind {ev.kind!r}; known kinds: {sorted(RENDERERS)}")
    renderer(RenderCall(data, ev, fs, rng, line_freq, notes))


__all__ = ["RENDERERS", "RenderCall", "add", "mixing_matrix", "render_event", "spike_template"]
