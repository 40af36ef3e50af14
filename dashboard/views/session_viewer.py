"""Session viewer: traces with montage/time/gain, clickable whole-session spectrogram, report, EHR,
and the concept timeline (which minutes drive a concept match)."""
from __future__ import annotations

import keys
import state
import streamlit as st
import widgets

from clef import explore

START = "viewer_t"  # the traces' window start (s): slider, ◀ ▶ buttons and spectrogram clicks

st.title("Session viewer")
sessions = state.sessions()
ids = sessions["session_id"].tolist()
sid = widgets.session_picker("Session", ids, "viewer_id", st.session_state.get(keys.VIEWER_SESSION))
if st.session_state.get("_viewer_last_id") != sid:  # new session: back to the start
    st.session_state[START] = 0.0
    st.session_state["_viewer_last_id"] = sid
row = sessions.loc[sessions["session_id"] == sid].iloc[0]

try:
    sess = state.session_signal(sid)
    times, freqs, power = state.session_spectrogram(sid)
except Exception as exc:  # noqa: BLE001 - e.g. recordings not available for this cohort
    widgets.show_error(exc, stop=True)

c1, c2, c3 = st.columns(3)
montage = c1.radio("Montage", list(explore.MONTAGE_LABELS), horizontal=True,
                   format_func=explore.MONTAGE_LABELS.get, key="viewer_montage")
window = c2.select_slider("Window (s)", [5, 10, 15, 20, 30, 60], value=10, key="viewer_window")
gain = c3.select_slider("Gain (µV per division)", [10, 20, 30, 50, 70, 100, 150, 200, 300, 500],
                        value=100, key="viewer_gain")

# A click (or box) on the spectrogram moves the traces there: apply it before the slider exists.
t_clicked = explore.clicked_time((st.session_state.get("viewer_spec") or {}).get("selection"))
if t_clicked is not None and st.session_state.get("_viewer_last_click") != t_clicked:
    st.session_state[START] = explore.clamp_start(t_clicked - window / 2, sess.duration_s, window)
st.session_state["_viewer_last_click"] = t_clicked

st.plotly_chart(explore.spectrogram_figure(times, freqs, power,
                                           cursor_s=st.session_state.get(START, 0.0),
                                           title="Whole session: click a time to jump there"),
                key="viewer_spec", on_select="rerun", selection_mode=("points", "box", "lasso"),
                width="stretch")

max_t = max(0.0, float(sess.duration_s) - window)
st.session_state[START] = min(float(st.session_state.get(START, 0.0)), max_t)
nav1, nav2, nav3 = st.columns([1, 8, 1])
nav1.button("◀", key="viewer_prev", on_click=explore.step_state,
            args=(st.session_state, START, -window, max_t))
start = nav2.slider("Start (s)", 0.0, max(max_t, 0.1), step=1.0, key=START,
                    label_visibility="collapsed")
nav3.button("▶", key="viewer_next", on_click=explore.step_state,
            args=(st.session_state, START, window, max_t))
st.plotly_chart(explore.trace_figure(sess, montage=montage, start_s=start, window_s=window,
                                     gain_uv=gain, marks=sess.annotations),
                width="stretch", key="viewer_traces")

left, right = st.columns([3, 2])
with left:
    st.subheader("Report")
    st.text(row.get("report") or "(no report)")
with right:
    st.subheader("EHR")
    st.dataframe(explore.ehr_table(row), hide_index=True, width="stretch", key="viewer_ehr")

st.subheader("Concept timeline")
concept = st.text_input("Concept", "generalized slowing", key="viewer_concept")
if concept and concept.strip():
    try:
        states, patch_s = state.window_states(sid)
        tl = explore.concept_timeline(states, None, None, state.text_vector(concept), patch_s)
        st.plotly_chart(explore.timeline_figure(tl, concept.strip()), width="stretch",
                        key="viewer_timeline")
        top = tl.nlargest(3, "score")
        st.caption("Minutes matching best: " + ", ".join(f"{m:.1f}" for m in top["start_min"]))
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc)
