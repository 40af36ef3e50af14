"""The pipeline's settings and what they decide: nothing here transforms samples.

:class:`PreprocessConfig` holds the settings of :func:`clef.io.read_session` and
:func:`clef.io.preprocess`, validated. :func:`clef.io.read.run_pipeline` (which transforms the
samples) asks this module what to do with one recording and how to record it:

- :func:`check_layout`: the checks the header alone decides (long enough, sampled fast enough,
  enough standard channels) and the channels kept, in output order;
- :func:`check_channels`: refuse NaN/Inf, flat or saturated kept channels (one error for all);
- :class:`Rate`: the target rate and the polyphase ratio (:func:`resample_ratio`);
- :func:`interpolation_matrix`: MNE's spherical-spline weights for the missing channels;
- :func:`provenance`: what the Session's meta records about the recording and each step.

The checks' thresholds and messages are in :mod:`clef.io.checks`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from clef.errors import TooFewChannels
from clef.io.checks import (
    MIN_SFREQ_HZ,
    channel_problems,
    check_duration,
    check_sfreq,
    raise_bad_channels,
)
from clef.io.harmonize import Harmonization
from clef.io.montage import check_montage


@dataclass
class PreprocessConfig:
    """Settings of the pipeline shared by :func:`read_session` and :func:`preprocess`."""

    sfreq: float | None = 200.0  # target rate in Hz; None keeps the recorded rate
    montage: str = "average"  # "average" | "linked_ears" | "bipolar" | "none"/"as_recorded"
    max_missing: int = 3  # up to this many of the 19 channels may be interpolated
    notch: float | str | None = None  # line frequency (50/60 Hz, harmonics too); "auto" = the
    # file's/session's meta["line_freq"] when known (BIDS, FIF, synthetic sites), else no notch
    l_freq: float | None = 0.5  # high-pass edge in Hz (removes drift); None = no high-pass
    h_freq: float | None = None  # low-pass edge in Hz; None = only the resampling anti-alias filter
    min_duration_s: float = 10.0  # shorter recordings raise TooShort
    check_quality: bool = True  # NaN/Inf, flat and saturated checks on recorded channels
    flat_std_v: float = 1e-7  # a channel with std below 0.1 uV is flat (EEG is ~10-50 uV)
    max_clipped_fraction: float = 0.01  # > 1% of samples pinned at the channel's min/max: saturated
    filter_order: int = 4  # Butterworth order of the band-pass (applied forward and backward)
    min_sfreq: float | None = MIN_SFREQ_HZ  # lower recorded rates raise SamplingRateTooLow
    check_amplitude: bool = True  # typical amplitude outside AMPLITUDE_RANGE_V: ImplausibleAmplitude
    amplitude_scale: float = 1.0  # multiply the recorded values (fix a known units mistake)

    def __post_init__(self):
        self.montage = check_montage(self.montage)
        if self.sfreq is not None and not (math.isfinite(self.sfreq) and self.sfreq > 0):
            raise ValueError(f"sfreq={self.sfreq!r} must be a positive number of Hz (or None)")
        if int(self.max_missing) != self.max_missing or not 0 <= self.max_missing <= 16:
            raise ValueError(f"max_missing={self.max_missing!r} must be an integer in 0..16")
        for name in ("notch", "l_freq", "h_freq"):
            v = getattr(self, name)
            if name == "notch" and v == "auto":
                continue
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r} must be a positive frequency in Hz or None")
        if self.l_freq and self.h_freq and self.l_freq >= self.h_freq:
            raise ValueError(f"l_freq={self.l_freq} must be below h_freq={self.h_freq}")
        if self.min_duration_s < 0:
            raise ValueError(f"min_duration_s={self.min_duration_s!r} must be >= 0")
        if not (math.isfinite(self.amplitude_scale) and self.amplitude_scale > 0):
            raise ValueError(f"amplitude_scale={self.amplitude_scale!r} must be a positive factor")


def check_layout(harm: Harmonization, cfg: PreprocessConfig, src_names: list[str],
                 n_samples: int, orig_sfreq: float, path=None) -> list[tuple[str, str]]:
    """The checks a recording's header alone decides: enough standard channels, long enough,
    sampled fast enough for the tokenizer's band.

    Parameters
    ----------
    harm : Harmonization
        ``harmonize_names(src_names)``.
    cfg : PreprocessConfig
    src_names : list of str
        The recording's channel names.
    n_samples, orig_sfreq : int, float
        Length and rate as recorded.
    path : optional
        Source, for error messages.

    Returns
    -------
    list of (str, str)
        ``(original, standard)`` names of the channels kept, in output order.

    Raises
    ------
    TooFewChannels, TooShort, SamplingRateTooLow
    """
    check_duration(n_samples, orig_sfreq, cfg.min_duration_s, path)
    check_sfreq(orig_sfreq, cfg.min_sfreq, path)
    return _kept_channels(harm, cfg, src_names, path)


def _kept_channels(harm: Harmonization, cfg: PreprocessConfig, src_names, path):
    """(original, standard) names of the channels to keep, in output order (19 standard in
    standard order, then the ear pair for a linked-ears reference); refuses too few channels."""
    if len(harm.missing) > cfg.max_missing:
        raise TooFewChannels(
            path, f"{len(harm.missing)} of the 19 standard 10-20 channels are missing "
                  f"({', '.join(harm.missing)}); found {', '.join(harm.found) or 'none'} "
                  f"(max_missing={cfg.max_missing})",
            "use a recording with the standard 10-20 electrodes, raise max_missing, or check the "
            "channel names (clef info PATH shows how each was mapped)")
    ear_pair = harm.ear_pair() if cfg.montage == "linked_ears" else None
    if cfg.montage == "linked_ears" and ear_pair is None:
        raise TooFewChannels(path, "montage 'linked_ears' needs both ear electrodes A1/A2 (or "
                                   f"mastoids M1/M2); the file has {list(src_names)}",
                             "use montage='average' or 'bipolar'")
    kept = [(harm.source_of(c), c) for c in harm.found]  # (original, standard) in standard order
    if ear_pair:
        kept += [(ear_pair[0], "EAR_L"), (ear_pair[1], "EAR_R")]
    return kept


def check_channels(rows, kept, cfg: PreprocessConfig, path) -> None:
    """Refuse NaN/Inf, flat or clipped kept channels (all of them named in one error)."""
    problems = {}
    for orig, std in kept:
        why = channel_problems(np.asarray(rows(orig)), cfg.flat_std_v, cfg.max_clipped_fraction)
        if why:
            problems[orig if orig == std else f"{orig} ({std})"] = why
    raise_bad_channels(problems, path)


@dataclass(frozen=True)
class Rate:
    """Target rate and the polyphase ratio from the recorded rate (1/1 when they are equal)."""

    target: float
    same_rate: bool
    up: int
    down: int
    n_out: int

    @classmethod
    def of(cls, orig_sfreq: float, cfg: PreprocessConfig, n_samples: int) -> Rate:
        target = float(cfg.sfreq) if cfg.sfreq else float(orig_sfreq)
        same_rate = abs(target - orig_sfreq) < 1e-9 * orig_sfreq
        up, down = (1, 1) if same_rate else resample_ratio(orig_sfreq, target)
        n_out = n_samples if same_rate else -(-n_samples * up // down)  # ceil, as resample_poly
        return cls(target, same_rate, up, down, n_out)


def resample_ratio(orig_sfreq: float, sfreq: float) -> tuple[int, int]:
    """Integer ``(up, down)`` with ``orig_sfreq * up / down ~= sfreq``.

    Exact for the usual rates (160, 250, 256, 500, 512 Hz ...); for odd rates such as 173.61 Hz
    the ratio is the closest fraction with a denominator <= 1000 (relative error < 1e-6), which
    keeps the polyphase filter short.
    """
    frac = Fraction(sfreq / orig_sfreq).limit_denominator(1000)
    if frac.numerator == 0:
        raise ValueError(f"cannot resample {orig_sfreq} Hz to {sfreq} Hz")
    return frac.numerator, frac.denominator


def _montage_name() -> str:
    import mne

    names = mne.channels.get_builtin_montages()
    return "colin27_1020" if "colin27_1020" in names else "standard_1020"  # renamed in MNE 1.13


@lru_cache(maxsize=64)
def interpolation_matrix(present: tuple[str, ...], missing: tuple[str, ...]) -> np.ndarray:
    """Spherical-spline weights (missing, present) that MNE's ``interpolate_bads`` applies.

    MNE's interpolation is linear in the data, so interpolating an identity matrix recovers its
    weights exactly; applying them block-wise avoids building a full-length ``Raw`` copy.
    """
    import mne

    names = list(present) + list(missing)
    info = mne.create_info(names, 1000.0, "eeg")
    eye = np.zeros((len(names), len(present)))
    eye[: len(present)] = np.eye(len(present))  # (channels, present) identity on the good rows
    raw = mne.io.RawArray(eye, info, verbose="error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw.set_montage(_montage_name(), on_missing="ignore", verbose="error")
    raw.info["bads"] = list(missing)
    raw.interpolate_bads(reset_bads=True, origin="auto", verbose="error")
    return raw.get_data()[len(present):].astype(np.float32)  # (missing, present)


def provenance(harm: Harmonization, cfg: PreprocessConfig, rate: Rate, notch,
               orig_sfreq: float, n_samples: int, meta: dict) -> dict:
    """What the Session's meta records about the recording and each step applied to it."""
    nyq = rate.target / 2.0
    return {
        "orig_sfreq": float(orig_sfreq),
        "orig_n_samples": int(n_samples),
        "channel_map": {orig: std for orig, std in harm.mapping.items()},
        "ear_channels": dict(harm.ears),
        "dropped": list(harm.dropped),
        "missing": list(harm.missing),
        "interpolated": list(harm.missing),
        "montage": cfg.montage,
        "reference": {"average": "average", "linked_ears": "linked_ears", "bipolar": "bipolar",
                      "none": meta.get("reference", "as_recorded")}[cfg.montage],
        "filters": {
            "l_freq": cfg.l_freq if cfg.l_freq and cfg.l_freq < nyq else None,
            "h_freq": cfg.h_freq if cfg.h_freq and cfg.h_freq < nyq * 0.99 else None,
            "notch": float(notch) if notch and notch < nyq else None,
            "type": f"butterworth order {cfg.filter_order}, zero-phase (sosfiltfilt)",
            "resample": (None if rate.same_rate
                         else f"polyphase up={rate.up} down={rate.down} (kaiser 5.0)"),
        },
        "config": asdict(cfg),
    }

