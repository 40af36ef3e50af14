"""Session viewer: traces (montages, display filters, coloured events), the events list, the
clickable whole-session spectrogram, left/right spectrograms with an asymmetry trend, a band-power
topomap at the cursor, report, EHR and a clickable concept timeline. What is on screen (session,
time, montage, window, filters) lives in the URL: `/viewer?session=<id>&t=120` opens it there."""
from __future__ import annotations

import keys
import session_data
import state
import streamlit as st
import viewer_panels
import widgets

from clef import explore

PAGE = "viewer"
START = viewer_panels.START  # the traces' window start (s): slider, ◀ ▶, clicks jump it
WINDOWS = [5, 10, 15, 20, 30, 60]
GAINS = [10, 20, 30, 50, 70, 100, 150, 200, 300, 500]

st.title("Session viewer")
sessions = state.sessions()
ids = sessions["session_id"].tolist()
URL = [explore.UrlBinding(keys.VIEWER_PARAM_SESSION, "viewer_id"),
       explore.UrlBinding(keys.VIEWER_PARAM_TIME, START, explore.url_number, 0.0,
                          explore.fmt_number),
       explore.UrlBinding("montage", "viewer_montage", explore.url_choice(explore.MONTAGE_LABELS),
                          "bipolar"),
       explore.UrlBinding("window", "viewer_window", explore.url_choice(WINDOWS), 10),
       explore.UrlBinding("gain", "viewer_gain", explore.url_choice(GAINS), 100),
       explore.UrlBinding("lff", "viewer_lff", explore.url_choice(explore.LOW_CUT_CHOICES), 0.0,
                          explore.fmt_number),
       explore.UrlBinding("hff", "viewer_hff", explore.url_choice(explore.HIGH_CUT_CHOICES), 0.0,
                          explore.fmt_number),
       explore.UrlBinding("notch", "viewer_notch", explore.url_choice(explore.NOTCH_CHOICES), 0)]
restored = widgets.url_restore(PAGE, URL)
if keys.VIEWER_SESSION in st.session_state and keys.VIEWER_PARAM_SESSION not in restored:
    st.session_state["viewer_id"] = st.session_state.pop(keys.VIEWER_SESSION)  # older hand-off
for b in URL[2:]:
    st.session_state.setdefault(b.key, b.default)

sid = widgets.session_picker("Session", ids, "viewer_id")
if st.session_state.get("_viewer_last_id") != sid:  # new session: back to the start
    if st.session_state.get("_viewer_last_id") is not None and keys.VIEWER_PARAM_TIME not in restored:
        st.session_state[START] = 0.0
    st.session_state["_viewer_last_id"] = sid
row = sessions.loc[sessions["session_id"] == sid].iloc[0]

try:
    sess = session_data.session_signal(sid)
    spectra = session_data.session_spectra(sid)
    times, freqs, power = session_data.session_spectrogram(sid)
except Exception as exc:  # noqa: BLE001 - e.g. recordings not available for this cohort
    widgets.show_error(exc, stop=True)

events = explore.events_table(sess.annotations)
window = st.session_state["viewer_window"]  # its widget is in the navigation row below
viewer_panels.apply_clicks(events, sess.duration_s, window)

main, side = st.columns([4, 1])
main.plotly_chart(explore.spectrogram_figure(times, freqs, power,
                                             title="Whole session: click a time to jump there",
                                             marks=sess.annotations),
                  key="viewer_spec", on_select="rerun", selection_mode=("points", "box"),
                  width="stretch")
with side:
    viewer_panels.events_panel(events)

# traces, their controls, ◀ ▶, start, window and the topomap: a fragment, so moving in time or
# changing the montage redraws only them
viewer_panels.time_panel(sess, spectra, sid, GAINS, WINDOWS, PAGE, URL)
viewer_panels.hemispheres_panel(spectra, times, freqs)
viewer_panels.report_panel(row)
viewer_panels.timeline_panel(sid)
