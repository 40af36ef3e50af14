"""Waveforms of transient and rhythmic events, rendered into a (19, samples) microvolt array.

Each renderer takes the plan's ``Event``, the sampling rate and a generator, and adds its waveform
with its topography using numpy slicing (trains are built as 1-D impulse trains convolved with a
template, then spread over channels by an outer product).
"""
from __future__ import annotations

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


def render_event(data: np.ndarray, ev, fs: float, rng: np.random.Generator, line_freq: float,
                 notes: list) -> None:
    """Add one event's waveform to ``data`` (19, samples) in microvolts."""
    p = ev.params
    s0 = round(ev.onset * fs)
    n = max(1, round(ev.duration * fs))
    k = ev.kind
    if k in ("spike", "sharp"):
        w = spike_template(fs, p["amp"], p["width"], k == "sharp")
        region = p["region"]
        tp = region_topo(region, p["side"], 0.38)
        add(data, s0, tp, w)
    elif k == "gsw":
        f0 = p["freq"]
        t, out = 0.0, []
        while t < ev.duration - 0.2:
            f = f0 - 0.5 * t / ev.duration  # slight slowing through the burst
            out.append(_sw_cycle(fs, p["amp"], 1 / f))
            t += 1 / f
        w = np.concatenate(out) * _taper(sum(len(o) for o in out), fs, 0.25)
        add(data, s0, region_topo("generalized"), w)
    elif k == "polyspike":
        period = 1 / p["freq"]
        cyc = int(period * fs)
        tt = np.arange(cyc) / fs
        nsp = int(rng.integers(3, 6))
        c = sum(-0.7 * p["amp"] * _g(tt, 0.02 + i / 16.0, 0.01) for i in range(nsp))
        c = c - 0.6 * p["amp"] * _g(tt, min(period * 0.8, nsp / 16.0 + 0.08), 0.05)
        reps = max(1, int(ev.duration / period))
        w = np.tile(c, reps) * _taper(cyc * reps, fs, 0.1)
        add(data, s0, region_topo("generalized"), w)
    elif k in ("lpd", "gpd", "triphasic"):
        times = np.asarray(p["times"])
        amps = p["amp"] * rng.uniform(0.75, 1.25, size=times.size)
        imp = _train(n, fs, times, amps)
        if k == "triphasic":
            tt = np.arange(int(0.45 * fs)) / fs
            tpl = (-0.3 * _g(tt, 0.04, 0.02) + 1.0 * _g(tt, 0.12, 0.04) - 0.55 * _g(tt, 0.27, 0.07))
        else:
            tpl = spike_template(fs, 1.0, 0.12, True)
        w = fftconvolve(imp, tpl)[:n]
        if k == "lpd":
            add(data, s0, topo(["T7", "C3"] if p["side"] == "left" else ["T8", "C4"], 0.38), w)
        elif k == "gpd":
            add(data, s0, region_topo("generalized"), w)
        else:
            base = region_topo("generalized") ** 1.5
            lag = round(p["lag_s"] * fs)
            for row in range(5):
                m = (AP_ROW == row).astype(np.float32) * base
                add(data, s0 + row * lag, m, w)
    elif k == "firda":
        t = np.arange(n) / fs
        w = p["amp"] * np.sin(2 * np.pi * p["freq"] * t + rng.uniform(0, 2 * np.pi))
        add(data, s0, region_topo("bifrontal"), w * _taper(n, fs, 0.6))
    elif k == "bs_burst":
        x = np.stack([_band_noise_1d(rng, n, fs, 0.8, 14.0) for _ in range(4)])  # (4, n)
        lead = np.stack([region_topo(r, sd) for r, sd in
                         (("frontal", "left"), ("frontal", "right"), ("temporal", "left"),
                          ("temporal", "right"))], 1)  # (19, 4)
        lead = lead + 0.6
        w = (lead @ x) * (p["amp"] / 2.5) * _taper(n, fs, 0.15)  # (19, n)
        sharp = spike_template(fs, p["amp"] * 0.8, 0.09, True)
        add(data, s0, None, w)
        add(data, s0 + int(rng.integers(0, max(1, n // 3))), region_topo("generalized"), sharp)
    elif k == "seizure":
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
            add(data, s0, region_topo("generalized"), w)
        else:
            early = region_topo(p["region"], p["side"], 0.35)
            late = region_topo("hemisphere", p["side"])
            late = np.maximum(late, 0.45 * region_topo("generalized"))
            spread = np.clip((frac - 0.15) / 0.5, 0, 1)
            add(data, s0, early, w * (1 - spread))
            add(data, s0, late, w * spread)
        if post > 0:
            d = _band_noise_1d(rng, post, fs, 0.5, 3.0) * 35.0
            d *= np.exp(-np.arange(post) / (0.5 * post))
            tp = (region_topo("generalized") if p["region"] == "generalized"
                  else region_topo("hemisphere", p["side"]))
            add(data, s0 + ictal, tp, d)
    elif k == "vertex":
        tt = np.arange(int(0.4 * fs)) / fs
        w = -p["amp"] * _g(tt, 0.1, 0.035) + 0.3 * p["amp"] * _g(tt, 0.2, 0.05)
        add(data, s0, region_topo("vertex"), w)
    elif k == "spindle":
        t = np.arange(n) / fs
        env = np.sin(np.pi * t / ev.duration) ** 2
        w = p["amp"] * env * np.sin(2 * np.pi * p["freq"] * t + rng.uniform(0, 2 * np.pi))
        add(data, s0, region_topo("central"), w * 1.3)
    elif k == "kcomplex":
        tt = np.arange(int(1.0 * fs)) / fs
        w = -p["amp"] * _g(tt, 0.2, 0.08) + 0.55 * p["amp"] * _g(tt, 0.55, 0.13)
        add(data, s0, topo(["Fz", "Cz"], 0.33), w)
    elif k == "photic":
        t = np.arange(n) / fs
        f = p["freq"]
        w = np.sin(2 * np.pi * f * t)
        if 2 * f < fs / 2:
            w = w + 0.4 * np.sin(4 * np.pi * f * t + 0.5)
        add(data, s0, region_topo("occipital"), p["amp"] * w * _taper(n, fs, 0.3))
    elif k == "hv":
        t = np.arange(n) / fs
        hv_len = max(1.0, ev.duration - 60.0) if ev.duration > 90 else ev.duration * 0.75
        env = np.where(t < hv_len, (t / hv_len) ** 1.5, np.exp(-(t - hv_len) / 15.0))
        mod = 0.6 + 0.4 * np.abs(_band_noise_1d(rng, n, fs, 0.01, 0.15))
        w = 0.7 * np.sin(2 * np.pi * p["freq"] * t) + 0.5 * _band_noise_1d(rng, n, fs, 1.0, 3.5)
        add(data, s0, region_topo("generalized"), p["amp"] * env * np.minimum(mod, 1.5) * w)
    elif k == "blink":
        tt = np.arange(int(0.4 * fs)) / fs
        w = p["amp"] * np.sin(np.pi * tt / 0.4) ** 3
        tp = topo(["Fp1", "Fp2"], 0.32)
        add(data, s0, tp, w)
    elif k == "eye_move":
        t = np.arange(n) / fs
        step = 1 / (1 + np.exp(-(t - 0.03) / 0.01)) - 1 / (1 + np.exp(-(t - ev.duration + 0.05) / 0.02))
        tp = topo(["F7"], 0.35) - topo(["F8"], 0.35)
        add(data, s0, tp, p["amp"] * step)
    elif k == "roving":
        t = np.arange(n) / fs
        w = p["amp"] * np.sin(2 * np.pi * p["freq"] * t) * _taper(n, fs, 2.0)
        add(data, s0, topo(["F7"], 0.35) - topo(["F8"], 0.35), w)
    elif k == "muscle":
        hi = min(70.0, 0.45 * fs)
        x = _band_noise_1d(rng, n, fs, 20.0, hi) * p["amp"] * _taper(n, fs, 0.2)
        side = p["side"]
        tp = (topo(["F7", "T7", "F8", "T8"], 0.35) if side == "both"
              else region_topo("temporal", side, 0.4))
        # muscle is local: give each channel its own mixture to avoid a single coherent source
        y = np.stack([x, np.roll(x, int(0.013 * fs)), np.roll(x, int(0.029 * fs))])  # (3, n)
        mix = rng.uniform(0, 1, size=(19, 3)).astype(np.float32)
        add(data, s0, None, (tp[:, None] * (mix @ y)) / 1.5)
    elif k == "pop":
        tt = np.arange(n) / fs
        tau = rng.uniform(0.1, 0.5)
        w = p["amp"] * np.exp(-tt / tau)
        m = np.zeros(19, np.float32)
        m[p["channel"]] = 1.0
        add(data, s0, m, w)
    elif k == "line":
        t = np.arange(n) / fs
        w = p["amp"] * np.sin(2 * np.pi * line_freq * t + rng.uniform(0, 2 * np.pi))
        m = np.zeros(19, np.float32)
        m[p["channels"]] = 1.0
        add(data, s0, m, w * _taper(n, fs, 0.5))
    elif k == "ecg":
        rr = 60.0 / p["heart_rate"]
        nb = int(ev.duration / rr) + 2
        beats = np.cumsum(rr * (1 + 0.04 * rng.standard_normal(nb))) - rr * rng.uniform(0, 1)
        beats = beats[(beats >= 0) & (beats < ev.duration - 0.5)]
        tt = np.arange(int(0.5 * fs)) / fs
        tpl = (-0.15 * _g(tt, 0.04, 0.008) + 1.0 * _g(tt, 0.06, 0.01) - 0.3 * _g(tt, 0.08, 0.01)
               + 0.25 * _g(tt, 0.3, 0.05))
        w = fftconvolve(_train(n, fs, beats, np.full(beats.size, p["amp"])), tpl)[:n]
        add(data, s0, ecg_topo(), w)
        notes.append(("ecg_beats", int(beats.size)))
    else:  # pragma: no cover - the plan only emits known kinds
        raise ValueError(f"unknown event kind {k!r}")


__all__ = ["add", "mixing_matrix", "render_event", "spike_template"]
