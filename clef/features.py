"""Hand-crafted session features: log band power per channel and band, plus relative powers.

The band-power probe is the classical baseline for clinical EEG: it is what the synthetic-cohort
ceilings and the probe battery compare learned embeddings against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import welch

# Canonical clinical bands in Hz, lower edge inclusive, upper edge exclusive.
BANDS: dict[str, tuple[float, float]] = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 13.0),
    "beta": (13.0, 30.0),
    "gamma": (30.0, 45.0),
}


@dataclass
class BandPowerConfig:
    """Settings for :func:`band_power`."""

    window_s: float = 2.0  # Welch segment length; 2 s gives 0.5 Hz resolution
    overlap: float = 0.5  # fraction of each segment shared with the next
    eps: float = 1e-12  # floor (uV^2) before the log, so flat channels give finite features
    bands: tuple[tuple[str, float, float], ...] = tuple((k, lo, hi) for k, (lo, hi) in BANDS.items())


def band_power_names(ch_names, config: BandPowerConfig | None = None) -> list[str]:
    """Feature names in the order :func:`band_power` returns them.

    Parameters
    ----------
    ch_names : list of str
        Channel names, in the data's channel order.
    config : BandPowerConfig, optional

    Returns
    -------
    list of str
        ``"log_<band>_<ch>"`` for every (channel, band), then ``"rel_<band>_<ch>"``.
    """
    cfg = config or BandPowerConfig()
    names = [b for b, _, _ in cfg.bands]
    out = [f"log_{b}_{ch}" for ch in ch_names for b in names]
    return out + [f"rel_{b}_{ch}" for ch in ch_names for b in names]


def band_powers(data, sfreq: float, config: BandPowerConfig | None = None) -> np.ndarray:
    """Absolute band power (uV^2) per channel and band, by Welch's method.

    Parameters
    ----------
    data : array, shape (channels, samples) or (batch, channels, samples)
        Signal in volts.
    sfreq : float
        Sampling rate in Hz.
    config : BandPowerConfig, optional

    Returns
    -------
    np.ndarray, shape (..., channels, bands)
        Power in each band (integral of the PSD over the band), in uV^2.
    """
    cfg = config or BandPowerConfig()
    x = np.asarray(data, dtype=np.float64)
    if x.ndim not in (2, 3):
        raise ValueError(f"band_power: data must be (channels, samples) or (batch, channels, "
                         f"samples), got shape {x.shape}. Fix: pass Session.data.")
    if not np.isfinite(x).all():
        raise ValueError("band_power: data contains NaN or Inf. Fix: clean or drop the bad "
                         "channels first (clef.io rejects such recordings).")
    if sfreq <= 0:
        raise ValueError(f"band_power: sfreq must be positive, got {sfreq}.")
    nyq = sfreq / 2.0
    for name, lo, hi in cfg.bands:
        if lo >= nyq:
            raise ValueError(f"band_power: band {name} starts at {lo} Hz, at or above the Nyquist "
                             f"frequency {nyq} Hz. Fix: resample to a higher rate or drop the band.")
    nperseg = round(cfg.window_s * sfreq)
    if x.shape[-1] < nperseg:
        raise ValueError(f"band_power: {x.shape[-1]} samples is shorter than one {cfg.window_s} s "
                         f"Welch segment ({nperseg} samples). Fix: pass a longer recording.")
    noverlap = round(nperseg * cfg.overlap)
    freqs, psd = welch(x * 1e6, fs=sfreq, nperseg=nperseg, noverlap=noverlap, detrend="constant",
                       axis=-1)  # psd: (..., channels, freqs) uV^2/Hz
    df = freqs[1] - freqs[0]
    out = np.empty(x.shape[:-1] + (len(cfg.bands),))  # (..., channels, bands)
    for j, (_, lo, hi) in enumerate(cfg.bands):
        sel = (freqs >= lo) & (freqs < min(hi, nyq))
        out[..., j] = psd[..., sel].sum(axis=-1) * df
    return out


def band_power(data, sfreq: float, config: BandPowerConfig | None = None,
               relative: bool = True) -> np.ndarray:
    """Log band power per channel x band, then relative power per channel x band, flattened.

    Parameters
    ----------
    data, sfreq, config
        As in :func:`band_powers`.
    relative : bool
        Append the relative powers (False: log powers only, ``channels * bands`` features).

    Returns
    -------
    np.ndarray, shape (2 * channels * bands,) or (batch, 2 * channels * bands)
        float32: ``log10`` absolute power (uV^2) for every (channel, band), then the band's share of
        the channel's power summed over all bands. Names: :func:`band_power_names`.
    """
    cfg = config or BandPowerConfig()
    p = band_powers(data, sfreq, cfg)  # (..., channels, bands)
    total = p.sum(axis=-1, keepdims=True)  # (..., channels, 1)
    rel = p / np.maximum(total, cfg.eps)  # (..., channels, bands)
    logp = np.log10(np.maximum(p, cfg.eps))
    lead = p.shape[:-2]
    if not relative:
        return logp.reshape(lead + (-1,)).astype(np.float32)  # (..., channels * bands)
    feats = np.concatenate([logp.reshape(lead + (-1,)),  # (..., channels * bands)
                            rel.reshape(lead + (-1,))], axis=-1)  # (..., 2 * channels * bands)
    return feats.astype(np.float32)
