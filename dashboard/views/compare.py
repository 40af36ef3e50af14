"""Compare two sessions: full-size spectrograms and traces in sync (one time cursor for both),
where the model's states agree minute by minute, and spectra per scalp region.
`/compare?a=<id>&b=<id>&t=120` opens it there."""
from __future__ import annotations

import keys
import session_data
import state
import streamlit as st
import widgets

from clef import explore

PAGE = "compare"
START = "compare_t"

st.title("Compare two sessions")
sessions = state.sessions()
ids = sessions["session_id"].tolist()
URL = [explore.UrlBinding("a", "compare_a"), explore.UrlBinding("b", "compare_b"),
       explore.UrlBinding(keys.VIEWER_PARAM_TIME, START, explore.url_number, 0.0,
                          explore.fmt_number),
       explore.UrlBinding("montage", "compare_montage",
                          explore.url_choice(explore.MONTAGE_LABELS), "bipolar")]
widgets.url_restore(PAGE, URL)
st.session_state.setdefault("compare_b", ids[min(1, len(ids) - 1)])
st.session_state.setdefault(START, 0.0)
st.session_state.setdefault("compare_montage", "bipolar")

c1, c2, c3 = st.columns([2, 2, 3])
with c1:
    a = widgets.session_picker("Session A", ids, "compare_a")
with c2:
    b = widgets.session_picker("Session B", ids, "compare_b")
montage = c3.radio("Montage", list(explore.MONTAGE_LABELS), horizontal=True,
                   format_func=explore.MONTAGE_LABELS.get, key="compare_montage")
try:
    sess = {s: session_data.session_signal(s) for s in (a, b)}
    spec = {s: session_data.session_spectrogram(s) for s in (a, b)}
except Exception as exc:  # noqa: BLE001 - e.g. recordings not available for this cohort
    widgets.show_error(exc, stop=True)

window = 10
duration = min(sess[a].duration_s, sess[b].duration_s)
for key in ("compare_spec_a", "compare_spec_b"):  # a click on either spectrogram moves both
    t = explore.clicked_time((st.session_state.get(key) or {}).get("selection"))
    if t is not None and st.session_state.get(f"_{key}_last") != t:
        st.session_state[START] = explore.clamp_start(t - window / 2, duration, window)
    st.session_state[f"_{key}_last"] = t
max_t = max(0.0, float(duration) - window)
st.session_state[START] = min(float(st.session_state[START]), max_t)
start = st.slider("Time (s), both sessions", 0.0, max(max_t, 0.1), step=1.0, key=START)
widgets.url_publish(PAGE, URL)

cols = st.columns(2)
for col, sid, tag in zip(cols, (a, b), ("a", "b")):
    t_s, fr, p = spec[sid]
    col.plotly_chart(explore.spectrogram_figure(t_s, fr, p, cursor_s=start, title=f"{tag.upper()}: "
                                                f"{sid}", marks=sess[sid].annotations),
                     key=f"compare_spec_{tag}", on_select="rerun", selection_mode=("points",),
                     width="stretch")
    col.plotly_chart(explore.trace_figure(sess[sid], montage=montage, start_s=start,
                                          window_s=window, marks=sess[sid].annotations),
                     key=f"compare_traces_{tag}", width="stretch")

st.subheader("Where they agree")
left, right = st.columns([3, 2])
try:
    (sa, patch_s), (sb, _) = session_data.window_states(a), session_data.window_states(b)
    left.plotly_chart(explore.similarity_figure(explore.state_similarity(sa, sb), patch_s, a, b),
                      width="stretch", key="compare_similarity")
except Exception as exc:  # noqa: BLE001 - the model states may be unavailable
    widgets.show_error(exc, container=left)
right.markdown("**Per region**: spectral correlation, and B − A band power (dB)")
right.dataframe(explore.region_similarity(session_data.session_spectra(a), session_data.session_spectra(b)),
                hide_index=True, width="stretch", key="compare_regions")
