"""Quantitative EEG panels of the session viewer: left/right spectrograms (CSA pair), a hemispheric
asymmetry trend and a topographic band-power map at the cursor (MNE's topomap).

All come from one per-channel multitaper spectrogram (the model tokenizer's), computed once per
session (:func:`channel_spectra`).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.session import Session

LEFT = ("Fp1", "F7", "F3", "T7", "C3", "P7", "P3", "O1")
RIGHT = ("Fp2", "F8", "F4", "T8", "C4", "P8", "P4", "O2")  # LEFT's mirror images, in order
BANDS = {"delta": (1.0, 4.0), "theta": (4.0, 8.0), "alpha": (8.0, 13.0), "beta": (13.0, 30.0)}


@dataclass
class Spectra:
    """Per-channel power spectral density over a whole session.

    Attributes
    ----------
    times : np.ndarray
        (windows,) window centres, seconds.
    freqs : np.ndarray
        (freqs,) Hz.
    density : np.ndarray
        float32 (channels, windows, freqs), V²/Hz.
    ch_names : list of str
    """

    times: np.ndarray
    freqs: np.ndarray
    density: np.ndarray
    ch_names: list

    def rows(self, channels: Sequence[str]) -> list[int]:
        """Row positions of ``channels`` (those present)."""
        index = {n: i for i, n in enumerate(self.ch_names)}
        return [index[c] for c in channels if c in index]


def channel_spectra(session: Session, tokenizer=None, *, fmax: float = 30.0) -> Spectra:
    """Per-channel multitaper spectrogram of a session from the model's tokenizer.

    Parameters
    ----------
    session : Session
        At the tokenizer's sampling rate.
    tokenizer : clef.tokenizer.MultitaperTokenizer, optional
        Default: the default tokenizer config at the session's rate.
    fmax : float
        Highest frequency kept (Hz).

    Returns
    -------
    Spectra
    """
    if tokenizer is None:
        from clef.tokenizer import MultitaperTokenizer, TokenizerConfig

        tokenizer = MultitaperTokenizer(TokenizerConfig(sfreq=float(session.sfreq)))
    power = tokenizer.spectrogram(np.asarray(session.data, dtype=np.float32),
                                  sfreq=float(session.sfreq))  # (channels, windows, freqs)
    freqs = np.asarray(tokenizer.freqs)
    keep = freqs <= fmax
    density = (power[:, :, keep] / float(session.sfreq)).astype(np.float32)
    times = np.asarray(tokenizer.times(power.shape[1]), dtype=float)
    return Spectra(times, freqs[keep], density, list(session.ch_names))


def to_db(density: np.ndarray) -> np.ndarray:
    """dB re 1 µV²/Hz."""
    return (10 * np.log10(np.maximum(density, 1e-30) / 1e-12)).astype(np.float32)


def region_spectrogram(spectra: Spectra, channels: Sequence[str] | None = None) -> np.ndarray:
    """(freqs, windows) dB of the mean density over ``channels`` (None: all)."""
    rows = spectra.rows(channels) if channels is not None else list(range(len(spectra.ch_names)))
    if not rows:
        raise ValueError(f"none of {list(channels or [])} in {spectra.ch_names}. Fix: pick "
                         "standard 10-20 channels.")
    return to_db(spectra.density[rows].mean(axis=0)).T


def band_power(spectra: Spectra, band: str) -> np.ndarray:
    """(channels, windows) mean density in a band of :data:`BANDS` (V²/Hz)."""
    if band not in BANDS:
        raise ValueError(f"band={band!r} is not one of {tuple(BANDS)}.")
    lo, hi = BANDS[band]
    keep = (spectra.freqs >= lo) & (spectra.freqs < hi)
    return spectra.density[:, :, keep].mean(axis=2)


def asymmetry_trend(spectra: Spectra, bands: Sequence[str] = tuple(BANDS)) -> pd.DataFrame:
    """Hemispheric asymmetry over time: (right - left) / (right + left) band power per window.

    Left and right are the homologous pairs :data:`LEFT`/:data:`RIGHT`; +1 = all power on the
    right, -1 = all on the left, 0 = symmetric.

    Returns
    -------
    pd.DataFrame
        Columns ``time_min``, ``band``, ``asymmetry``.
    """
    left, right = spectra.rows(LEFT), spectra.rows(RIGHT)
    frames = []
    for band in bands:
        bp = band_power(spectra, band)
        lp, rp = bp[left].mean(axis=0), bp[right].mean(axis=0)
        asym = (rp - lp) / np.maximum(rp + lp, 1e-30)
        frames.append(pd.DataFrame({"time_min": spectra.times / 60.0, "band": band,
                                    "asymmetry": asym.astype(float)}))
    return pd.concat(frames, ignore_index=True)


def asymmetry_figure(trend: pd.DataFrame, *, cursor_s: float | None = None,
                     height: int = 220) -> go.Figure:
    """Lines of :func:`asymmetry_trend` per band, with the cursor."""
    fig = go.Figure()
    for band, g in trend.groupby("band", sort=False):
        fig.add_trace(go.Scatter(x=g["time_min"], y=g["asymmetry"], mode="lines", name=band,
                                 hovertemplate=f"{band} %{{y:+.2f}} at %{{x:.1f}} min"
                                               "<extra></extra>"))
    if cursor_s is not None:
        fig.add_vline(x=cursor_s / 60.0, line={"color": "black", "width": 1, "dash": "dot"})
    fig.add_hline(y=0, line={"color": "#999", "width": 1})
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 30, "b": 40},
                      title="Asymmetry (right − left) / (right + left)",
                      xaxis_title="time (min)", yaxis={"range": [-1, 1], "title": "index"},
                      legend={"orientation": "h", "y": 1.15, "x": 1, "xanchor": "right"})
    return fig


def window_at(spectra: Spectra, t_s: float) -> int:
    """Index of the spectrogram window nearest ``t_s`` seconds."""
    return int(np.abs(spectra.times - float(t_s)).argmin()) if len(spectra.times) else 0


@functools.lru_cache(maxsize=8)
def _topomap_info(ch_names: tuple[str, ...]):
    """MNE Info with standard 10-20 positions for ``ch_names`` (built once per channel set)."""
    import mne

    info = mne.create_info(list(ch_names), 200.0, ch_types="eeg", verbose="error")
    info.set_montage("standard_1020", match_case=False, on_missing="ignore", verbose="error")
    return info


def topomap_figure(spectra: Spectra, t_s: float, band: str = "alpha", *, size: float = 2.6):
    """Topographic map of one band's power (dB) at time ``t_s`` (``mne.viz.plot_topomap``).

    Returns
    -------
    matplotlib.figure.Figure
        A figure outside pyplot (safe on a server's threads; nothing to close): save it with
        ``fig.savefig`` or use :func:`topomap_png`.
    """
    import mne
    from matplotlib.figure import Figure

    w = window_at(spectra, t_s)
    values = to_db(band_power(spectra, band)[:, w])
    fig = Figure(figsize=(size, size))  # no layout engine: it cost more than the map itself
    ax = fig.add_subplot()
    im, _ = mne.viz.plot_topomap(values, _topomap_info(tuple(spectra.ch_names)), axes=ax,
                                 show=False, cmap="viridis", contours=4, sensors=True)
    fig.colorbar(im, ax=ax, shrink=0.7, label="dB")
    ax.set_title(f"{band} {BANDS[band][0]:g}-{BANDS[band][1]:g} Hz at "
                 f"{spectra.times[w] / 60:.1f} min", fontsize=9)
    return fig


def topomap_png(spectra: Spectra, t_s: float, band: str = "alpha", *, dpi: int = 110) -> bytes:
    """:func:`topomap_figure` as PNG bytes (for ``st.image``)."""
    import io

    buf = io.BytesIO()
    topomap_figure(spectra, t_s, band).savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()
