"""Images the server draws for the dashboard: the viewer's traces (matplotlib, a figure reused
per thread) and spectrogram thumbnails (Viridis PNGs). An image paints in a fraction of a new
chart's time in the browser (benchmarks/results/dashboard_browser.md)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from clef.explore.colours import viridis_lut
from clef.explore.viewer import TraceWindow, trace_height
from clef.thumbnails import Thumbnail, thumbnail, to_u8

# The traces' matplotlib figures, reused: free ones per (width, height, derivations), taken by
# one drawing at a time. (Not per thread: Streamlit runs each script run on a new thread.)
_FREE_FRAMES: dict[tuple, list] = {}
_FRAMES_LOCK = threading.Lock()
_TICK_STEPS = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0)  # s
_MAX_TICKS = 13


@dataclass
class _Frame:
    """A reused traces figure: its artists are updated, never re-made, per image."""

    canvas: object  # FigureCanvasAgg
    ax: object  # Axes, axis machinery off: labels and ticks are plain artists
    lines: object  # LineCollection of the derivations
    tick_marks: object  # LineCollection in (data x, axes y)
    tick_labels: list  # _MAX_TICKS Text artists
    background: object  # the static part (names, edges, "time (s)") as drawn once


def _new_frame(width: int, height: int, names: tuple[str, ...]) -> _Frame:
    """A figure for traces of this size and derivations (~0.1 s: made once, then reused). Its
    axes draw no Axis (ticks, tick labels): matplotlib re-makes and lays those out on every draw,
    which was most of an image's time; the labels here are plain texts whose positions are
    updated. The static part is drawn once and kept as a bitmap; each image draws only the
    traces, ticks and events over it (blitting: text drawing was a third of an image's time)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure
    from matplotlib.transforms import blended_transform_factory

    fig = Figure(figsize=(width / 100, height / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((70 / width, 40 / height, 1 - 80 / width, 1 - 56 / height))
    ax.set_axis_off()
    lines = LineCollection([], linewidths=0.8, animated=True,
                           colors=["#1f3b73" if k % 2 else "#3a3a3a" for k in range(len(names))])
    ax.add_collection(lines)
    n = len(names)  # derivation k sits at (n - 1 - k) gains in (-1, n) gains: fixed fractions
    for k, name in enumerate(names):
        ax.text(-0.006, (n - k) / (n + 1), name, transform=ax.transAxes, ha="right",
                va="center", fontsize=8)
    ax.plot([0, 0, 1], [1, 0, 0], transform=ax.transAxes, color="black", lw=0.8,
            clip_on=False)  # left and bottom edges
    xt = blended_transform_factory(ax.transData, ax.transAxes)
    marks = LineCollection([], colors="black", linewidths=0.8, transform=xt, clip_on=False,
                           animated=True)
    ax.add_collection(marks, autolim=False)
    labels = [ax.text(0, -0.012, "", transform=xt, ha="center", va="top", fontsize=8,
                      animated=True) for _ in range(_MAX_TICKS)]
    ax.text(0.5, -36 / (height - 56), "time (s)", transform=ax.transAxes, ha="center",
            va="bottom", fontsize=8)
    canvas.draw()  # the static part only: the animated artists are left out
    return _Frame(canvas, ax, lines, marks, labels, canvas.copy_from_bbox(fig.bbox))


@contextmanager
def _frame(width: int, height: int, names: tuple[str, ...]):
    """A free figure for these traces, taken for one drawing and given back after it."""
    key = (width, height, names)
    with _FRAMES_LOCK:
        free = _FREE_FRAMES.setdefault(key, [])
        f = free.pop() if free else None
    if f is None:
        f = _new_frame(width, height, names)
    try:
        yield f
    finally:
        with _FRAMES_LOCK:
            _FREE_FRAMES[key].append(f)


def _time_ticks(start_s: float, window_s: float) -> np.ndarray:
    """Round tick times inside [start_s, start_s + window_s], at most _MAX_TICKS of them."""
    step = next((s for s in _TICK_STEPS if window_s / s <= _MAX_TICKS - 1), _TICK_STEPS[-1])
    first = np.ceil(start_s / step - 1e-9) * step
    ticks = np.arange(first, start_s + window_s + 1e-9, step)
    return ticks[:_MAX_TICKS]


def trace_png(window: TraceWindow, width: int = 1300) -> bytes:
    """The traces of :func:`trace_window` as a PNG image (no title: show ``window.title`` with it).

    A new image paints in a fraction of a new chart's time in the browser, so the viewer, which
    redraws its traces on every step, montage and filter, shows them this way; build the window
    with ``max_points`` about ``2 * width`` (min/max per pixel column). Thread-safe: a drawing
    takes a free figure (made once per size and derivations) and gives it back.

    Parameters
    ----------
    window : TraceWindow
    width : int
        Image width in pixels; the height follows the number of derivations.

    Returns
    -------
    bytes
        The PNG file (64 colours).
    """
    import io

    from PIL import Image

    w, n_ch = window, len(window.names)
    height = trace_height(n_ch) - 30  # the chart's height, less its title
    with _frame(width, height, tuple(w.names)) as f:  # (one drawing at a time on it)
        ax = f.ax
        for artist in [*ax.patches, *ax.texts[n_ch + _MAX_TICKS + 1:]]:  # the previous events
            artist.remove()
        events = []
        for x0, x1, colour, label in w.spans:
            events.append(ax.axvspan(x0, x1, color=colour, alpha=0.18, lw=0, animated=True))
            if label:
                events.append(ax.text(max(x0, w.start_s), n_ch * w.gain_uv, label, color=colour,
                                      fontsize=8, va="bottom", ha="left", clip_on=False,
                                      animated=True))
        # (derivations, points, 2)
        f.lines.set_segments(np.stack([np.broadcast_to(w.t, w.uv.shape),
                                       w.uv + w.offsets[:, None]], axis=2))
        ax.set_xlim(w.start_s, w.start_s + w.window_s)
        ax.set_ylim(-w.gain_uv, n_ch * w.gain_uv)
        ticks = _time_ticks(w.start_s, w.window_s)
        f.tick_marks.set_segments([[(x, 0.0), (x, -0.008)] for x in ticks])
        f.canvas.restore_region(f.background)
        for artist in [*events, f.lines, f.tick_marks]:
            ax.draw_artist(artist)
        for x, label in zip(ticks, f.tick_labels):
            label.set_x(x)
            label.set_text(f"{x:g}")
            ax.draw_artist(label)
        rgb = Image.fromarray(np.asarray(f.canvas.buffer_rgba())[..., :3])
    buf = io.BytesIO()  # 64 colours: a third of the bytes, and quicker to encode
    rgb.quantize(64, method=Image.Quantize.FASTOCTREE).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def spectrogram_png(power_db: np.ndarray, width: int = 320, height: int = 160) -> bytes:
    """PNG thumbnail of a spectrogram (low frequencies at the bottom, Viridis, 2-98 % range).

    An image paints in a fraction of a heatmap chart's time in the browser (4 thumbnails:
    ~0.3 s vs ~0.6 s click-to-paint, headless Chromium), so lists of sessions use it.

    Parameters
    ----------
    power_db : array, shape (n_freqs, n_times)
        As :func:`spectrogram_figure` takes it (rows ascending in frequency).
    width, height : int
        Size of the image in pixels.

    Returns
    -------
    bytes
        The PNG file.
    """
    z = np.asarray(power_db, dtype=float)
    if z.ndim != 2 or not z.size or not np.isfinite(z).any():
        raise ValueError(f"spectrogram of shape {z.shape} has no finite values to draw")
    return _viridis_png(to_u8(z)[0], width, height)


def thumbnail_png(thumb, width: int = 320, height: int = 160) -> bytes:
    """PNG of a stored spectrogram thumbnail (:class:`clef.thumbnails.Thumbnail`, from the
    embedding store: no signals read), drawn as :func:`spectrogram_png` draws a spectrogram, at
    ``width`` x ``height`` pixels; returns the PNG file's bytes."""
    return _viridis_png(np.asarray(thumb.image, dtype=np.uint8), width, height)


def spectra_thumbnail(spectra) -> Thumbnail:
    """The thumbnail ``clef embed`` would store, made from a session's :class:`Spectra` (for a
    store without thumbnails)."""
    return thumbnail(spectra.density, spectra.freqs, float(spectra.times[-1]))


def span_label(span_s: float, f_lo: float, f_hi: float) -> str:
    """The time and frequency range a spectrogram image spans, e.g. ``0-10 min, 1-30 Hz``."""
    return f"0-{span_s / 60:.0f} min, {f_lo:.0f}-{f_hi:.0f} Hz"


def _viridis_png(u8: np.ndarray, width: int, height: int) -> bytes:
    """(n_freqs, n_times) uint8, rows ascending in frequency -> Viridis PNG, low rows at the
    bottom, resized bilinearly."""
    import io

    from PIL import Image

    rgb = viridis_lut(256)[u8[::-1]]  # (n_freqs, n_times, 3)
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR).save(buf, "PNG")
    return buf.getvalue()
