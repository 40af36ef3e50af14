"""Session viewer figures: stacked EEG traces, the events list and the clickable whole-session
spectrogram."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from clef.explore.montages import MONTAGE_LABELS, apply_display_montage, display_filter
from clef.explore.qeeg import channel_spectra, region_spectrogram
from clef.session import Session

#: One colour per event type (annotation label before any ":"); others get OTHER_EVENT_COLOUR.
EVENT_COLOURS = {"seizure": "#d62728", "spike": "#9467bd", "sharp": "#9467bd",
                 "eye_blinks": "#1f77b4", "muscle": "#ff7f0e", "electrode_pop": "#8c564b",
                 "photic": "#e377c2", "hyperventilation": "#17becf", "state": "#7f7f7f"}
OTHER_EVENT_COLOUR = "#2ca02c"
FILTER_PAD_S = 2.0  # seconds read either side of the window so display filters have no edge


def event_type(label: str) -> str:
    """The type of an annotation label: ``"state:awake"`` -> ``"state"``, ``"seizure"``."""
    return str(label).split(":", 1)[0].strip().lower()


def event_colour(label: str) -> str:
    """The colour of an annotation's type (:data:`EVENT_COLOURS`)."""
    return EVENT_COLOURS.get(event_type(label), OTHER_EVENT_COLOUR)


def events_table(marks: Sequence[tuple[float, float, str]] | None) -> pd.DataFrame:
    """The session's annotations as an events list, in time order.

    Parameters
    ----------
    marks : list of (onset_s, duration_s, label)

    Returns
    -------
    pd.DataFrame
        Columns ``onset_s``, ``duration_s``, ``type``, ``label``, ``colour``; the whole-session
        state ``state:*`` spans are kept (they are events a reader jumps to as well).
    """
    rows = [(float(o), float(d), event_type(lab), str(lab), event_colour(lab))
            for o, d, lab in (marks or [])]
    df = pd.DataFrame(rows, columns=["onset_s", "duration_s", "type", "label", "colour"])
    return df.sort_values("onset_s", kind="stable").reset_index(drop=True)


def montage_window(data: np.ndarray, ch_names: Sequence[str], montage: str, sfreq: float = 200.0
                   ) -> tuple[np.ndarray, list[str]]:
    """Re-reference a block of EEG for display (:func:`clef.explore.montages.apply_display_montage`).

    Parameters
    ----------
    data : np.ndarray
        (channels, samples), the 19 standard channels on any common reference.
    ch_names : sequence of str
    montage : str
        One of :data:`MONTAGE_LABELS`.
    sfreq : float

    Returns
    -------
    data : np.ndarray
        (derivations, samples).
    names : list of str
    """
    return apply_display_montage(data, ch_names, montage, sfreq)


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


def _window_samples(session: Session, start_s: float, window_s: float, filters: dict
                    ) -> tuple[int, int, np.ndarray]:
    """(i0, i1, data) of the window, display-filtered with FILTER_PAD_S of context each side."""
    sf, n = float(session.sfreq), session.n_samples
    i0 = round(start_s * sf)
    i1 = min(n, i0 + max(1, round(window_s * sf)))
    if not any(filters.values()):
        return i0, i1, session.data[:, i0:i1]
    pad = round(FILTER_PAD_S * sf)
    p0, p1 = max(0, i0 - pad), min(n, i1 + pad)
    x = display_filter(session.data[:, p0:p1], sf, **filters)
    return i0, i1, x[:, i0 - p0:i0 - p0 + (i1 - i0)]


def _event_spans(marks, start_s: float, window_s: float
                 ) -> tuple[list[tuple[float, float, str, str | None]], list[str]]:
    """Events inside the window as ``(x0, x1, colour, label or None)`` (one label per type keeps
    the strip readable), and the labels the title names: states, and events longer than the
    window (a seizure)."""
    spans, states, seen = [], [], set()
    for onset, dur, label in (marks or []):
        if onset + dur < start_s or onset > start_s + window_s:
            continue
        if event_type(label) == "state":  # states (awake, N2, ...) go in the title
            states.append(str(label).split(":", 1)[-1])
            continue
        if dur > window_s:
            states.append(str(label))
        kind = event_type(label)
        spans.append((float(onset), float(onset + max(dur, 0.2)), event_colour(label),
                      None if kind in seen else str(label)[:24]))
        seen.add(kind)
    return spans, states


@dataclass(frozen=True)
class TraceWindow:
    """One window of display-ready traces, drawn by :func:`trace_figure` or :func:`trace_png`."""

    t: np.ndarray  # (points,) seconds, float32
    uv: np.ndarray  # (derivations, points) microvolts, float32, offsets not added
    names: list[str]  # derivation names, top to bottom
    offsets: np.ndarray  # (derivations,) vertical position of each derivation (µV)
    spans: list[tuple[float, float, str, str | None]]  # events: (x0, x1, colour, label)
    start_s: float
    window_s: float
    gain_uv: float
    title: str


def trace_window(session: Session, *, montage: str = "bipolar", start_s: float = 0.0,
                 window_s: float = 10.0, gain_uv: float = 100.0, max_points: int = 4000,
                 marks: Sequence[tuple[float, float, str]] | None = None,
                 low_hz: float = 0.0, high_hz: float = 0.0, notch_hz: float = 0.0
                 ) -> TraceWindow:
    """Montage, display filters and decimation of one window, with its events and title.

    Parameters are those of :func:`trace_figure`.

    Returns
    -------
    TraceWindow
    """
    if gain_uv <= 0:
        raise ValueError(f"gain_uv={gain_uv} must be > 0. Fix: pass microvolts per channel "
                         "spacing.")
    if window_s <= 0:
        raise ValueError(f"window_s={window_s} must be > 0.")
    sf = float(session.sfreq)
    start_s = clamp_start(start_s, session.duration_s, window_s)
    filters = {"low_hz": low_hz, "high_hz": high_hz, "notch_hz": notch_hz}
    i0, i1, block = _window_samples(session, start_s, window_s, filters)
    x, names = montage_window(block, session.ch_names, montage, sf)
    t = np.arange(i0, i1) / sf  # (samples,)
    t, x = minmax_decimate(t, x * 1e6, max_points)  # microvolts, (derivations, points)
    n_ch = len(names)
    spans, states = _event_spans(marks, start_s, window_s)
    shown = [f"{k} {v:g}" for k, v in (("LFF", low_hz), ("HFF", high_hz), ("notch", notch_hz))
             if v]
    title = (f"{MONTAGE_LABELS[montage]} · {gain_uv:g} µV/division · {start_s:.1f} s"
             + (f" · {', '.join(shown)} Hz" if shown else "")
             + (f" · {', '.join(dict.fromkeys(states))}" if states else ""))
    return TraceWindow(t=t.astype(np.float32), uv=x.astype(np.float32), names=list(names),
                       offsets=(n_ch - 1 - np.arange(n_ch)) * float(gain_uv),
                       spans=spans, start_s=start_s, window_s=window_s, gain_uv=float(gain_uv),
                       title=title)


def trace_height(n_ch: int) -> int:
    """Pixel height of the traces of ``n_ch`` derivations (chart and image alike)."""
    return max(320, 24 * n_ch + 80)


def trace_figure(session: Session, *, montage: str = "bipolar", start_s: float = 0.0,
                 window_s: float = 10.0, gain_uv: float = 100.0, max_points: int = 4000,
                 marks: Sequence[tuple[float, float, str]] | None = None,
                 low_hz: float = 0.0, high_hz: float = 0.0, notch_hz: float = 0.0) -> go.Figure:
    """Stacked EEG traces for one time window, like a reading station (an interactive chart).

    Parameters
    ----------
    session : Session
        Volts, (channels, samples), the 19 standard channels.
    montage : str
        One of :data:`MONTAGE_LABELS`.
    start_s, window_s : float
        Window start and length in seconds (clipped to the recording).
    gain_uv : float
        Vertical spacing between channels in microvolts (smaller = larger waves).
    max_points : int
        Per-channel point budget; longer windows are min/max decimated.
    marks : list of (onset_s, duration_s, label), optional
        Annotations: events are shaded in their type's colour (:data:`EVENT_COLOURS`, one label
        per type); states, and events longer than the window, are also named in the title.
    low_hz, high_hz, notch_hz : float
        Display filters (:func:`clef.explore.montages.display_filter`); 0 = off.

    Returns
    -------
    go.Figure
    """
    w = trace_window(session, montage=montage, start_s=start_s, window_s=window_s,
                     gain_uv=gain_uv, max_points=max_points, marks=marks, low_hz=low_hz,
                     high_hz=high_hz, notch_hz=notch_hz)
    fig = go.Figure()
    for k, name in enumerate(w.names):
        # SVG lines (one path per derivation), not WebGL: measured in headless Chromium (software
        # GL) 0.15-0.3 s per draw vs 0.6-4.8 s for Scattergl (benchmarks/results/dashboard.md)
        fig.add_trace(go.Scatter(x=w.t, y=w.uv[k] + np.float32(w.offsets[k]), mode="lines",
                                 name=name,
                                 line={"width": 1, "color": "#1f3b73" if k % 2 else "#3a3a3a"},
                                 hovertemplate=f"{name}<br>%{{x:.2f}} s<extra></extra>",
                                 showlegend=False))
    for x0, x1, colour, label in w.spans:
        fig.add_vrect(x0=x0, x1=x1, fillcolor=colour, opacity=0.18, line_width=0, layer="below",
                      annotation_text=label, annotation_position="top left",
                      annotation_font={"color": colour, "size": 11})
    n_ch = len(w.names)
    fig.update_layout(
        height=trace_height(n_ch), margin={"l": 70, "r": 10, "t": 30, "b": 40},
        xaxis={"title": "time (s)", "range": [w.start_s, w.start_s + w.window_s]},
        yaxis={"tickmode": "array", "tickvals": w.offsets.tolist(), "ticktext": w.names,
               "showgrid": False, "zeroline": False,
               "range": [-w.gain_uv, n_ch * w.gain_uv]},
        title=w.title, dragmode="pan", showlegend=False,
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
    session, tokenizer
        As in :func:`clef.explore.qeeg.channel_spectra`.
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
    spectra = channel_spectra(session, tokenizer, fmax=fmax)
    return spectra.times, spectra.freqs, region_spectrogram(spectra)  # all channels


def spectrogram_figure(times: np.ndarray, freqs: np.ndarray, power_db: np.ndarray, *,
                       cursor_s: float | None = None, title: str = "",
                       height: int = 260,
                       marks: Sequence[tuple[float, float, str]] | None = None) -> go.Figure:
    """Heatmap of a session spectrogram (minutes on x) with a clickable time strip.

    A row of invisible markers (one per window) across the middle of the heatmap makes clicks
    (and box selections) return a time: pass the selection event to :func:`clicked_time`.
    Drag zooms; the cursor is a line trace at ``cursor_s``. ``marks`` (onset_s, duration_s,
    label): seizures are outlined over all frequencies, other events are ticks along the top in
    their type's colour (one legend entry per type); states are left out.
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
    legend = _add_spectrogram_marks(fig, marks, freqs)
    fig.update_layout(height=height, margin={"l": 50, "r": 10, "t": 30, "b": 40}, title=title,
                      showlegend=legend, legend={"orientation": "h", "y": 1.12, "x": 1,
                                                 "xanchor": "right"},
                      xaxis_title="time (min)", yaxis_title="Hz",
                      dragmode="zoom", uirevision="spectrogram")
    return fig


def _add_spectrogram_marks(fig: go.Figure, marks, freqs) -> bool:
    """Seizure outlines and per-type event ticks on a spectrogram; True when any were drawn."""
    ev = events_table(marks)
    ev = ev[ev["type"] != "state"]
    if ev.empty or not len(freqs):
        return False
    top = float(freqs[-1])
    for _, r in ev[ev["type"] == "seizure"].iterrows():
        fig.add_shape(type="rect", x0=r.onset_s / 60, x1=(r.onset_s + r.duration_s) / 60,
                      y0=float(freqs[0]), y1=top, line={"color": r.colour, "width": 2},
                      fillcolor="rgba(0,0,0,0)")
    for kind, g in ev.groupby("type", sort=False):
        fig.add_trace(go.Scatter(
            x=(g["onset_s"] / 60).to_numpy(), y=np.full(len(g), top), mode="markers",
            marker={"symbol": "triangle-down", "size": 9, "color": g["colour"].iloc[0]},
            name=str(kind), customdata=g["label"].to_numpy(),
            hovertemplate="%{customdata} at %{x:.2f} min<extra></extra>"))
    return True


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
