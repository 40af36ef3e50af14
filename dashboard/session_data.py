"""Cached loaders of one session's data for the viewer, compare, similar and search pages: its
signals, spectra, spectrogram and thumbnail, the viewer's images (drawn ahead), window states and
region scores. The cohort-wide loaders they build on (bundle, model, store, cohort) are in
state.py.
"""
from __future__ import annotations

import functools

import pandas as pd
import streamlit as st
from state import bundle, cohort, model, store, text_vector

from clef import explore
from clef.errors import SignalsUnavailable


@st.cache_data(show_spinner="Loading the recording…", max_entries=8)
def session_signal(session_id: str):
    """A sample session's signals (regenerated on demand for synthetic cohorts)."""
    c = cohort()
    if c is None:
        raise SignalsUnavailable(session_id)
    return c.session(session_id)


@st.cache_resource(show_spinner="Computing the spectrogram…", max_entries=16)
def session_spectra(session_id: str):
    """Per-channel spectrogram (:class:`clef.explore.Spectra`) of a session; read-only, shared."""
    return explore.channel_spectra(session_signal(session_id), model().tokenizer)


@st.cache_data(show_spinner=False, max_entries=32)
def session_spectrogram(session_id: str):
    """(times_s, freqs, power_db) of a sample session (the channel mean)."""
    sp = session_spectra(session_id)
    return sp.times, sp.freqs, explore.region_spectrogram(sp)


@st.cache_data(show_spinner=False, max_entries=256)
def spectrogram_thumbnail(session_id: str) -> tuple[bytes, str]:
    """(PNG, its time and frequency range) of a session's spectrogram thumbnail: the one
    ``clef embed`` stored (~5 ms, no signals read), else the same made from the signals
    (0.2-0.5 s)."""
    try:
        th = store().thumbnail(session_id)
    except KeyError:  # not in the store (an index built from another one)
        th = None
    if th is None:
        th = explore.spectra_thumbnail(session_spectra(session_id))
    return explore.thumbnail_png(th), explore.span_label(th.span_s, th.freqs[0], th.freqs[-1])


# ---- the viewer's images, drawn ahead ---------------------------------------------------------
# A step in time (▶) shows the next window: its traces and topomap are drawn on a background
# thread while the user reads the current one, so the click only sends them (~0.2 s of drawing).

@st.cache_resource(show_spinner=False)
def _draw_ahead(cohort_key: str) -> explore.DrawAhead:
    return explore.DrawAhead(max_items=48)  # ~48 x 120 kB


def _drawn() -> explore.DrawAhead:
    """The viewer's drawn images of this bundle's cohort (its session ids name them)."""
    return _draw_ahead(str(bundle().cohort))


def _traces(sess, width: int, params: dict) -> tuple[str, bytes]:
    w = explore.trace_window(sess, max_points=2 * width, marks=sess.annotations, **params)
    return w.title, explore.trace_png(w, width=width)


def traces_image(session_id: str, width: int, *, ahead: bool = False,
                 **params) -> tuple[str, bytes] | None:
    """(title, PNG) of a session's traces (:func:`clef.explore.trace_window` parameters:
    montage, start_s, window_s, gain_uv, low_hz, high_hz, notch_hz); with ``ahead``, start
    drawing it in the background and return None. (The background thread calls no Streamlit
    function: the session is read here.)"""
    key = ("traces", session_id, width, tuple(sorted(params.items())))
    make = functools.partial(_traces, session_signal(session_id), width, params)
    if ahead:
        return _drawn().ahead(key, make)
    return _drawn().get(key, make)


def topomap_png(session_id: str, window: int, band: str, *, ahead: bool = False) -> bytes | None:
    """PNG of the band-power topomap at one spectrogram window (matplotlib and MNE: ~0.1 s);
    with ``ahead``, start drawing it in the background and return None."""
    sp = session_spectra(session_id)
    make = functools.partial(explore.topomap_png, sp, float(sp.times[window]), band)
    if ahead:
        return _drawn().ahead(("topomap", session_id, window, band), make)
    return _drawn().get(("topomap", session_id, window, band), make)


@st.cache_data(show_spinner="Embedding the session…", max_entries=16)
def window_states(session_id: str):
    """((n_patches, D) per-time-patch embeddings, seconds per patch) of a sample session."""
    st_ = store()
    if st_.manifest.get("states"):
        return explore.window_states(model(), store=st_, session_id=session_id)
    return explore.window_states(model(), session_signal(session_id))


@st.cache_data(show_spinner="Scoring the session's regions…", max_entries=32)
def region_scores(session_id: str, query: str) -> pd.DataFrame:
    """Per-region cosine of a session with a query (:func:`clef.search.region_scores`)."""
    from clef.search import region_scores as rs

    return rs(model(), session_signal(session_id), text_vector(query))
