"""Plausibility and quality checks on recorded channels, before any processing.

A recording is refused (an ``InvalidRecording`` subclass, with a fix) when it is too short, sampled
too slowly for the tokenizer's band, its typical amplitude says the header's unit is wrong, or a
kept channel is NaN/Inf, flat or saturated. :func:`clef.io.read.run_pipeline` and
:mod:`clef.io.config` call these.
"""
from __future__ import annotations

import math

import numpy as np

from clef.errors import BadSignal, ImplausibleAmplitude, SamplingRateTooLow, TooShort

# Twice the tokenizer's top frequency (clef.tokenizer.TokenizerConfig.fmax = 40 Hz; a test keeps
# the two in step): below this rate the band the model reads was never recorded.
MIN_SFREQ_HZ = 80.0
# Typical EEG: per-channel median absolute deviation ~2-50 uV. Outside [0.1 uV, 1 mV] the header's
# physical unit is almost surely wrong (factors of 1e3 or 1e6).
AMPLITUDE_RANGE_V = (1e-7, 1e-3)
_AMPLITUDE_SAMPLES = 4_000  # samples per channel for the typical amplitude (MAD within ~2%;
# the accepted range spans four decades). 20,000 cost 12 ms of a 10-min read, 4,000 cost 3 ms


def check_duration(n_samples: int, sfreq: float, min_duration_s: float, path) -> None:
    """Raise TooShort when ``n_samples / sfreq < min_duration_s``."""
    dur = n_samples / sfreq
    if dur < min_duration_s:
        raise TooShort(path, f"recording lasts {dur:.2f} s, shorter than the minimum "
                             f"{min_duration_s:g} s",
                       "use a longer recording, or lower min_duration_s")


def check_sfreq(orig_sfreq: float, min_sfreq: float | None, path) -> None:
    """Raise SamplingRateTooLow when the recorded rate cannot hold the tokenizer's band.

    Parameters
    ----------
    orig_sfreq : float
        Recorded rate in Hz.
    min_sfreq : float or None
        Lowest accepted rate (default twice the tokenizer's 40 Hz top frequency); None disables.
    path
        Source, for the message.
    """
    if min_sfreq and orig_sfreq < min_sfreq:
        raise SamplingRateTooLow(
            path, f"recorded at {orig_sfreq:g} Hz, below {min_sfreq:g} Hz (twice the 40 Hz top "
                  "of the band clef's tokenizer reads): the signal above "
                  f"{orig_sfreq / 2:g} Hz was never captured and resampling cannot restore it",
            f"use a recording sampled at {min_sfreq:g} Hz or more (clinical EEG is usually "
            "200-512 Hz); if the header's rate is wrong, re-export the file with the true rate")


def typical_amplitude(rows, names) -> float | None:
    """Median over channels of each channel's median absolute deviation, in the file's volts.

    Robust to DC offsets and to a few flat or artefact-laden channels; computed on at most
    ``_AMPLITUDE_SAMPLES`` evenly spaced samples per channel. None when every channel is
    exactly constant (the flat-channel check reports those).
    """
    mads = []
    for name in names:
        row = np.asarray(rows(name))
        step = max(1, row.size // _AMPLITUDE_SAMPLES)
        x = row[::step].astype(np.float64)
        x = x[np.isfinite(x)]
        if x.size:
            mad = float(np.median(np.abs(x - np.median(x))))
            if mad > 0:
                mads.append(mad)
    return float(np.median(mads)) if mads else None


def _unit_hint(amp: float) -> tuple[str, float]:
    """The units mistake that best explains a typical amplitude, and the factor that fixes it."""
    target = 10e-6  # a typical EEG channel's median absolute deviation
    power = round(math.log10(target / amp) / 3) * 3  # nearest factor of 1e3
    power = power or (-3 if amp > target else 3)
    factor = 10.0 ** power
    names = {-6: "values in microvolts labelled as volts (1e6 times too large)",
             -3: "values in microvolts labelled as millivolts, or millivolts labelled as volts "
                 "(1e3 times too large)",
             3: "values in millivolts labelled as microvolts, or volts labelled as millivolts "
                "(1e3 times too small)",
             6: "values in volts labelled as microvolts (1e6 times too small)"}
    return names.get(power, f"values off by a factor of 1e{-power}"), factor


def check_amplitude(rows, names, path, scale: float = 1.0) -> float | None:
    """Raise ImplausibleAmplitude when the typical amplitude is outside ``AMPLITUDE_RANGE_V``.

    Parameters
    ----------
    rows : callable
        ``rows(name) -> (samples,)`` in volts as the file declares them.
    names : list of str
        Channels to look at (the standard channels found).
    path
        Source, for the message.
    scale : float
        Factor already applied to the values (``amplitude_scale``).

    Returns
    -------
    float or None
        The typical amplitude (volts, after ``scale``), recorded in ``meta["typical_amplitude_uv"]``.
    """
    amp = typical_amplitude(rows, names)
    if amp is None:
        return None
    lo, hi = AMPLITUDE_RANGE_V
    if not lo <= amp <= hi:
        hint, factor = _unit_hint(amp)
        raise ImplausibleAmplitude(
            path, f"typical amplitude {amp * 1e6:.4g} uV (median absolute deviation per channel) "
                  f"is outside the physiological range {lo * 1e6:g} uV - {hi * 1e3:g} mV; it "
                  f"looks like {hint}",
            f"correct the physical dimension in the file header, or read it with "
            f"amplitude_scale={factor * scale:g} (clef.io.read_session) if you know the factor")
    return amp


def channel_problems(row: np.ndarray, flat_std_v: float, max_clipped_fraction: float) -> str | None:
    """Why one channel is unusable ("NaN/Inf", "flat", "saturated"), or None when it is fine."""
    hi, lo = row.max(), row.min()  # NaN propagates and Inf shows at an edge: no separate pass
    if not (np.isfinite(hi) and np.isfinite(lo)):
        n_bad = int(np.count_nonzero(~np.isfinite(row)))
        return f"{n_bad} NaN/Inf samples"
    # std on every 4th sample: a flat channel is flat everywhere, and this halves the cost
    if float(np.std(row[::4], dtype=np.float64)) < flat_std_v:
        return "flat (no signal)"
    # Clipping holds the signal at the limit for consecutive samples; a sine merely touches its
    # peak. Count samples inside runs of >= 3 equal values at the channel's max or min.
    limit = max_clipped_fraction * row.size
    at_edges = [row == hi, row == lo]
    pinned = 0
    if sum(int(np.count_nonzero(at)) for at in at_edges) > limit:  # cheap screen first
        pinned = sum(int(np.count_nonzero(at[2:] & at[1:-1] & at[:-2])) for at in at_edges)
    if pinned > limit:
        return f"saturated ({100.0 * pinned / row.size:.1f}% of samples at the amplifier limits)"
    return None


def raise_bad_channels(problems: dict[str, str], path) -> None:
    """Raise BadSignal naming every bad channel (``{channel: why}``); nothing when empty."""
    if problems:
        listed = "; ".join(f"{ch}: {why}" for ch, why in problems.items())
        raise BadSignal(path, f"bad channel(s) {listed}",
                        "fix or exclude the recording; a flat or saturated electrode can be "
                        "removed from the file so clef interpolates it (up to max_missing)")
