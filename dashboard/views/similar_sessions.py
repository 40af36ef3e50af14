"""Similar sessions: nearest neighbours of a session (by id, from the map, or an upload)."""
from __future__ import annotations

import keys
import state
import streamlit as st
import widgets

from clef import explore

st.title("Similar sessions")
sessions = state.sessions()
ids = sessions["session_id"].tolist()
from_map = st.session_state.get(keys.MAP_SELECTED_IDS, [])

sources = ["Session id", "From map selection", "Upload a recording"]
source = st.radio("Start from", sources, horizontal=True, key="similar_source")
k = st.slider("Neighbours", 3, 50, 10, key="similar_k")

query_vec, query_id, upload = None, None, None
if source == "Session id":
    query_id = widgets.session_picker("Session", ids, "similar_id",
                                      st.session_state.get(keys.SIMILAR_SESSION))
elif source == "From map selection":
    if not from_map:
        st.info("Select sessions with the lasso on the Cohort map page first.")
        st.stop()
    query_id = st.selectbox("Session from the map selection", from_map, key="similar_map_id")
else:
    f = st.file_uploader("EDF, BDF, FIF, or a .zip of a BrainVision set (.vhdr/.vmrk/.eeg)",
                         type=["edf", "bdf", "fif", "gz", "zip"], key="similar_upload",
                         help=f"Up to {explore.MAX_UPLOAD_MB} MB; processed in a temporary "
                              "folder that is removed afterwards.")
    examples = explore.example_recordings()
    if f is None and examples:
        # a real recording shipped with clef (EEGMMIDB, ODC-By: data_samples/real/README.md)
        use_example = st.toggle(f"Or try a real recording shipped with clef: {examples[0].name} "
                                "(PhysioNet EEGMMIDB, ODC-By)", key="similar_upload_example")
        if use_example:
            name, data = examples[0].name, examples[0].read_bytes()
        else:
            st.stop()
    elif f is None:
        st.stop()
    else:
        name, data = f.name, f.getvalue()
    try:
        upload = state.upload(data, name)
    except Exception as exc:  # noqa: BLE001 - bad file: show the clef message, keep the app alive
        widgets.show_error(exc, stop=True)
    query_vec = upload.embedding
    st.success(f"Read {name}: {upload.summary}")

with st.expander("Steer the search with a concept", expanded=False):
    c1, c2, c3 = st.columns([3, 1, 1])
    steer_text = c1.text_input("Concept", "", key="similar_steer_text",
                               placeholder="benzodiazepine effect")
    direction = c2.radio("Direction", ["with", "without"], key="similar_steer_dir")
    weight = c3.slider("Strength", 0.1, 1.5, 0.5, 0.1, key="similar_steer_w")

try:
    plain, steered = explore.neighbours(state.index(), state.model(), k=k, session_id=query_id,
                                        vector=query_vec, steer_text=steer_text,
                                        steer_weight=weight if direction == "with" else -weight)
except Exception as exc:  # noqa: BLE001
    widgets.show_error(exc, stop=True)

label = query_id or (upload.name if upload else "")
if steered is None:
    st.subheader(f"Nearest neighbours of {label}")
    widgets.session_table(plain, "similar_table")
else:
    a, b = st.columns(2)
    a.subheader(f"Like {label}")
    widgets.session_table(plain, "similar_table", compact=True, container=a)
    b.subheader(f"… {direction} “{steer_text.strip()}”")
    widgets.session_table(steered, "similar_table_steered", compact=True, container=b)

top = (steered if steered is not None else plain)["session_id"].head(3).tolist()
if top:
    widgets.open_button(f"Open {top[0]} in the session viewer", "similar_to_viewer",
                        page=keys.PAGE_VIEWER, state_key=keys.VIEWER_SESSION, value=top[0])
if upload is not None and upload.xy is not None:
    extra = explore.upload_points(upload)
    st.plotly_chart(explore.map_figure(sessions, hover=state.hover(), extra_points=extra,
                                       highlight=explore.selection_mask(sessions["session_id"],
                                                                        top),
                                       highlight_name="top neighbours"),
                    width="stretch", key="similar_upload_map")

if st.toggle("Spectrograms side by side", value=True, key="similar_specs"):
    cols = st.columns(1 + len(top))
    panels = [(label, upload.spectrogram if upload is not None else None, query_id)]
    panels += [(sid, None, sid) for sid in top]
    for col, (title, spec, sid) in zip(cols, panels):
        try:
            t, fr, p = spec if spec is not None else state.session_spectrogram(sid)
            col.plotly_chart(explore.spectrogram_figure(t, fr, p, title=str(title), height=220),
                             width="stretch", key=f"similar_spec_{title}")
        except Exception as exc:  # noqa: BLE001 - e.g. a real cohort whose files moved
            col.warning(explore.error_message(exc))  # a warning: the other panels still show
