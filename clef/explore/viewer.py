"""Session viewer figures: stacked EEG traces and the clickable whole-session spectrogram."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from clef.session import Session

MONTAGE_LABELS = {"bipolar": "Double banana", "average": "Average reference"}


def montage_window(data: np.ndarray, ch_names: Sequence[str], montage: str, sfreq: float = 200.0
                   ) -> tuple[np.ndarray, list[str]]:
    """Re-reference a block of EEG for display with :func:`clef.io.apply_montage`.

    Parameters
    ----------
    data : np.ndarray
        (channels, samples), the 19 standard channels on any common reference.
    ch_names : sequence of str
    montage : {"bipolar", "average"}
        Longitudinal bipolar (double banana, 18 derivations) or common average reference.
    sfreq : float

    Returns
    -------
    data : np.ndarray
        (derivations, samples).
    names : list of str
    """
    from clef.io import apply_montage

    if montage not in MONTAGE_LABELS:
        raise ValueError(f"montage={montage!r} is not one of {tuple(MONTAGE_LABELS)}. "
                         "Fix: pick one of those.")
    win = Session(np.asarray(data, dtype=np.float32), float(sfreq), list(ch_names))
    out = apply_montage(win, montage)
    return out.data, list(out.ch_names)


def minmax_decimate(t: np.ndarray, y: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep each bucket's min and max so spikes survive decimation to ``max_points`` points.

    Parameters
    ----------
    t : np.ndarray
        (samples,) times.
    y : np.ndarray
        (channels, samples).
    max_points : int
        Upper bound on points per channel.

    Returns
    -------
    t, y : np.ndarray
        (points,) times (bucket start and middle, shared by all channels) and (channels, points)
        values (each bucket's extremes in time order).
    """
    n = y.shape[1]
    if n <= max_points:
        return t, y
    n_buckets = max(1, max_points // 2)
    size = int(np.ceil(n / n_buckets))
    n_buckets = int(np.ceil(n / size))
    pad = n_buckets * size - n
    yp = np.pad(y, ((0, 0), (0, pad)), mode="edge")  # (channels, buckets * size)
    yb = yp.reshape(y.shape[0], n_buckets, size)  # (channels, buckets, size)
    i_min, i_max = yb.argmin(axis=2), yb.argmax(axis=2)  # (channels, buckets)
    first, second = np.minimum(i_min, i_max), np.maximum(i_min, i_max)
    base = (np.arange(n_buckets) * size)[None, :]  # (1, buckets)
    idx = np.stack([base + first, base + second], axis=2).reshape(y.shape[0], -1)  # (ch, 2*b)
    vals = np.take_along_axis(yp, idx, axis=1)
    tb = base[0]
    tt = np.stack([t[tb], t[np.minimum(tb + size // 2, n - 1)]], axis=1).reshape(-1)
    return tt, vals


def trace_figure(session: Session, *, montage: str = "bipolar", start_s: float = 0.0,
                 window_s: float = 10.0, gain_uv: float = 100.0, max_points: int = 4000,
                 marks: Sequence[tuple[float, float, str]] | None = None) -> go.Figure:
    """Stacked EEG traces for one time window, like a reading station.

    Parameters
    ----------
    session : Session
        Volts, (channels, samples), the 19 standard channels.
    montage : {"bipolar", "average"}
    start_s, window_s : float
        Window start and length in seconds (clipped to the recording).
    gain_uv : float
        Vertical spacing between channels in microvolts (smaller = larger waves).
    max_points : int
        Per-channel point budget; longer windows are min/max decimated.
    marks : list of (onset_s, duration_s, label), optional
        Annotations: events shorter than the window are shaded spans, longer ones (states)
        are named in the title.

    Returns
    -------
    go.Figure
    """
    if gain_uv <= 0:
        raise ValueError(f"gain_uv={gain_uv} must be > 0. Fix: pass microvolts per channel "
                         "spacing.")
    if window_s <= 0:
        raise ValueError(f"window_s={window_s} must be > 0.")
    sf = float(session.sfreq)
    n = session.n_samples
    start_s = clamp_start(start_s, session.duration_s, window_s)
    i0 = round(start_s * sf)
    i1 = min(n, i0 + max(1, round(window_s * sf)))
    x, names = montage_window(session.data[:, i0:i1], session.ch_names, montage, sf)
    t = np.arange(i0, i1) / sf  # (samples,)
    t, x = minmax_decimate(t, x * 1e6, max_points)  # microvolts, (derivations, points)
    fig = go.Figure()
    n_ch = len(names)
    offsets = (n_ch - 1 - np.arange(n_ch)) * gain_uv  # first derivation on top
    for k, name in enumerate(names):
        fig.add_trace(go.Scattergl(x=t, y=x[k] + offsets[k], mode="lines", name=name,
                                   line={"width": 1, "color": "#1f3b73" if k % 2 else "#3a3a3a"},
                                   hovertemplate=f"{name}<br>%{{x:.2f}} s<extra></extra>",
                                   showlegend=False))
    states = []
    for onset, dur, label in (marks or []):
        if onset + dur < start_s or onset > start_s + window_s:
            continue
        if dur > window_s:  # long states (awake, drowsy, ...) go in the title, not as spans
            states.append(str(label))
            continue
        fig.add_vrect(x0=onset, x1=onset + max(dur, 0.2), fillcolor="orange", opacity=0.2,
                      line_width=0, annotation_text=str(label)[:30],
                      annotation_position="top left")
    fig.update_layout(
        height=max(320, 24 * n_ch + 80), margin={"l": 70, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "time (s)", "range": [start_s, start_s + window_s]},
        yaxis={"tickmode": "array", "tickvals": offsets.tolist(), "ticktext": names,
               "showgrid": False,
               "zeroline": False, "range": [-gain_uv, n_ch * gain_uv]},
        title=f"{MONTAGE_LABELS[montage]} · {gain_uv:g} µV/division · {start_s:.1f} s"
              + (f" · {', '.join(dict.fromkeys(states))}" if states else ""),
        dragmode="pan", showlegend=False,
    )
    return fig


def clamp_start(start_s: float, duration_s: float, window_s: float) -> float:
    """Window start kept inside the recording (0 when the window is longer than it)."""
    return float(np.clip(start_s, 0.0, max(0.0, float(duration_s) - float(window_s))))


def step_state(state, key: str, delta: float, max_value: float) -> None:
    """Add ``delta`` to ``state[key]`` clipped to [0, max_value] (a button callback)."""
    state[key] = float(np.clip(float(state.get(key, 0.0)) + delta, 0.0, max(0.0, max_value)))


def session_spectrogram(session: Session, tokenizer=None, *, fmax: float = 30.0
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Channel-averaged multitaper spectrogram of a whole session, from the model's tokenizer.

    Parameters
    ----------
    session : Session
        At the tokenizer's sampling rate.
    tokenizer : clef.tokenizer.MultitaperTokenizer, optional
        Default: the default tokenizer config at the session's rate.
    fmax : float
        Highest frequency shown (Hz).

    Returns
    -------
    times : np.ndarray
        (windows,) window centres in seconds.
    freqs : np.ndarray
        (freqs,) Hz.
    power_db : np.ndarray
        float32, (freqs, windows), dB re 1 µV²/Hz of the channel-mean power density.
    """
    if tokenizer is None:
        from clef.tokenizer import MultitaperTokenizer, TokenizerConfig

        tokenizer = MultitaperTokenizer(TokenizerConfig(sfreq=float(session.sfreq)))
    power = tokenizer.spectrogram(np.asarray(session.data, dtype=np.float32),
                                  sfreq=float(session.sfreq))  # (channels, windows, freqs)
    freqs = np.asarray(tokenizer.freqs)
    keep = freqs <= fmax
    density = power.mean(axis=0)[:, keep] / float(session.sfreq)  # (windows, freqs) V²/Hz
    db = 10 * np.log10(np.maximum(density, 1e-30) / 1e-12)
    times = np.asarray(tokenizer.times(power.shape[1]))
    return times, freqs[keep], db.T.astype(np.float32)


def spectrogram_figure(times: np.ndarray, freqs: np.ndarray, power_db: np.ndarray, *,
                       cursor_s: float | None = None, title: str = "",
                       height: int = 260) -> go.Figure:
    """Heatmap of a session spectrogram (minutes on x) with a clickable time strip.

    A row of invisible markers (one per window) across the middle of the heatmap makes clicks
    (and box selections) return a time: pass the selection event to :func:`clicked_time`.
    Drag zooms; the cursor is a line trace at ``cursor_s``.
    """
    t_min = np.asarray(times) / 60.0
    lo, hi = np.nanpercentile(power_db, [2, 98]) if np.size(power_db) else (0, 1)
    fig = go.Figure(go.Heatmap(x=t_min, y=freqs, z=power_db, colorscale="Viridis", zmin=lo,
                               zmax=hi, colorbar={"title": "dB", "thickness": 10},
                               hovertemplate="%{x:.2f} min · %{y:.1f} Hz<extra></extra>"))
    mid = float(np.median(freqs)) if len(freqs) else 0.0
    fig.add_trace(go.Scatter(x=t_min, y=np.full(t_min.shape, mid), mode="markers",
                             marker={"size": 14, "opacity": 0.01}, showlegend=False,
                             hovertemplate="go to %{x:.2f} min<extra></extra>", name="time"))
    if cursor_s is not None:
        fig.add_trace(go.Scatter(x=[cursor_s / 60.0] * 2, y=[freqs[0], freqs[-1]], mode="lines",
                                 line={"color": "white", "width": 2}, hoverinfo="skip",
                                 showlegend=False, name="cursor"))
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 30, "b": 40}, title=title,
                      xaxis_title="time (min)", yaxis_title="Hz",
                      dragmode="zoom", uirevision="spectrogram")
    return fig


def clicked_time(selection) -> float | None:
    """Seconds clicked/selected on a :func:`spectrogram_figure` or timeline (minutes on x)."""
    if not selection:
        return None
    pts = selection.get("points") or []
    xs = [p.get("x") for p in pts if p.get("x") is not None]
    if xs:
        return float(min(xs)) * 60.0
    for box in selection.get("box") or []:
        bx = box.get("x") or []
        if bx:
            return float(min(bx)) * 60.0
    return None
