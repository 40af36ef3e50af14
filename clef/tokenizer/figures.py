"""Plotly compressed spectral array: time x frequency heatmaps per channel or per scalp region.

The x axis is in seconds (ticks labelled in minutes), so a click's ``x`` is the time in seconds
(the dashboard moves the traces there).
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from clef.channels import REGIONS, STANDARD_CHANNELS
from clef.session import Session

_TICK_MINUTES = (0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 180, 360)


def _minute_ticks(t_end_s: float, max_ticks: int = 12) -> tuple[list[float], list[str]]:
    step = next((m for m in _TICK_MINUTES if t_end_s / (m * 60) <= max_ticks), _TICK_MINUTES[-1])
    vals = np.arange(0.0, t_end_s + 1e-9, step * 60)
    return vals.tolist(), [f"{v / 60:g}" for v in vals]


def _decimate(db: np.ndarray, times: np.ndarray, max_windows: int) -> tuple[np.ndarray, np.ndarray]:
    """Average groups of consecutive windows so at most ``max_windows`` columns remain."""
    n_win = db.shape[1]
    if n_win <= max_windows:
        return db, times
    k = -(-n_win // max_windows)
    n_out = -(-n_win // k)
    pad = n_out * k - n_win
    db_p = np.concatenate([db, np.full((db.shape[0], pad, db.shape[2]), np.nan)], axis=1)
    t_p = np.concatenate([times, np.full(pad, np.nan)])
    # (rows, windows, freqs) -> (rows, n_out, k, freqs)
    db_out = np.nanmean(db_p.reshape(db.shape[0], n_out, k, db.shape[2]), axis=2)
    return db_out, np.nanmean(t_p.reshape(n_out, k), axis=1)


def spectrogram_figure(
    spec,
    ch_names: list[str] | None = None,
    times: np.ndarray | None = None,
    freqs: np.ndarray | None = None,
    *,
    by: str = "region",
    db: bool = False,
    tokenizer=None,
    channels: list[str] | None = None,
    max_windows: int = 1500,
    zrange: tuple[float, float] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Compressed spectral array of one session.

    Parameters
    ----------
    spec : Session, np.ndarray or torch.Tensor
        A Session (its spectrogram is computed), or (channels, windows, freqs) multitaper power
        (``MultitaperTokenizer.spectrogram`` output) or dB values with ``db=True``.
    ch_names : list of str, optional
        Channel names of ``spec`` rows (default: the 19 standard channels).
    times, freqs : np.ndarray, optional
        Window centres (s) and frequencies (Hz); default from ``tokenizer``.
    by : {"region", "channel"}
        One row per scalp region (mean dB of its channels) or per channel.
    db : bool
        ``spec`` already holds dB values.
    tokenizer : MultitaperTokenizer, optional
        Gives sfreq, times and freqs (default: base config at the session's rate).
    channels : list of str, optional
        Rows to show when ``by="channel"`` (default all).
    max_windows : int
        Long sessions are averaged over consecutive windows down to this many columns.
    zrange : (float, float), optional
        Colour range in dB (default: 2nd-98th percentile).
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Heatmaps (x: seconds, ticks in minutes; y: Hz; colour: dB re 1 uV^2/Hz when computed
        from power).
    """
    from clef.tokenizer.config import TokenizerConfig
    from clef.tokenizer.tokenizer import MultitaperTokenizer

    if by not in ("region", "channel"):
        raise ValueError(f"spectrogram_figure: by={by!r}; use 'region' or 'channel'")
    if isinstance(spec, Session):
        if tokenizer is None:
            tokenizer = MultitaperTokenizer(TokenizerConfig(sfreq=float(spec.sfreq)))
        ch_names = list(spec.ch_names)
        title = title or f"{spec.meta.get('session_id', '')} spectrogram".strip()
        spec = tokenizer.spectrogram(np.asarray(spec.data), sfreq=spec.sfreq)
        db = False
    tokenizer = tokenizer or MultitaperTokenizer(TokenizerConfig.base())
    arr = spec.detach().cpu().numpy() if isinstance(spec, torch.Tensor) else np.asarray(spec)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 3:
        raise ValueError(f"spectrogram_figure: expected (channels, windows, freqs), got {arr.shape}")
    arr = arr.astype(np.float64)
    if not db:
        c = tokenizer.config
        arr = 10 * np.log10(np.maximum(arr / (c.sfreq * c.db_ref), 1e-30))  # dB re 1 uV^2/Hz
    ch_names = list(ch_names) if ch_names is not None else list(STANDARD_CHANNELS)
    if len(ch_names) != arr.shape[0]:
        raise ValueError(f"spectrogram_figure: {len(ch_names)} ch_names for {arr.shape[0]} rows")
    times = np.asarray(times if times is not None else tokenizer.times(arr.shape[1]), dtype=float)
    freqs = np.asarray(freqs if freqs is not None else tokenizer.freqs, dtype=float)

    if by == "region":
        pos = {ch: i for i, ch in enumerate(ch_names)}
        names, rows = [], []
        for region, chans in REGIONS.items():
            idx = [pos[ch] for ch in chans if ch in pos]
            if idx:
                names.append(region.replace("_", " "))
                rows.append(arr[idx].mean(0))
        if not rows:
            raise ValueError("spectrogram_figure: no standard channel names to form regions; "
                             "pass ch_names or use by='channel'")
        arr = np.stack(rows)
    else:
        keep = [ch_names.index(ch) for ch in channels] if channels else list(range(len(ch_names)))
        names, arr = [ch_names[i] for i in keep], arr[keep]

    arr, times = _decimate(arr, times, max_windows)
    lo, hi = zrange if zrange is not None else np.nanpercentile(arr, [2, 98])
    n = len(names)
    fig = make_subplots(rows=n, cols=1, shared_xaxes=True, vertical_spacing=min(0.02, 0.3 / n),
                        subplot_titles=names)
    for i, name in enumerate(names):
        fig.add_trace(go.Heatmap(
            z=arr[i].T.astype(np.float32), x=times, y=freqs, coloraxis="coloraxis", name=name,
            hovertemplate="t=%{x:.0f} s<br>f=%{y:.2f} Hz<br>%{z:.1f} dB<extra>" + name + "</extra>",
        ), row=i + 1, col=1)
        fig.update_yaxes(title_text="Hz" if n <= 6 else None, row=i + 1, col=1)
    t_end = float(times[-1]) + (float(times[1] - times[0]) if len(times) > 1 else 0.0)
    vals, text = _minute_ticks(t_end)
    fig.update_xaxes(tickvals=vals, ticktext=text)
    fig.update_xaxes(title_text="time (min)", row=n, col=1)
    fig.update_layout(
        coloraxis={"colorscale": "Turbo", "cmin": float(lo), "cmax": float(hi),
                   "colorbar": {"title": {"text": "dB"}}},
        height=int(90 + n * (110 if n <= 6 else 60)),
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        title=title,
    )
    return fig
