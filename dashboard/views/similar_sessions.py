"""Similar sessions: nearest neighbours of a session (by id, from the map, or an upload), with
"exclude same patient", steering with before/after counts, an honest upload report and a full-size
comparison of two sessions. The session, options and compared session live in the URL."""
from __future__ import annotations

import keys
import state
import streamlit as st
import widgets
from similar_panels import compare_panel, spectrograms, upload_map, upload_query, upload_report

from clef import explore

PAGE = "similar"
st.title("Similar sessions")
sessions = state.sessions()
ids = sessions["session_id"].tolist()
from_map = st.session_state.get(keys.MAP_SELECTED_IDS, [])

sources = ["Session id", "From map selection", "Upload a recording"]
URL = [explore.UrlBinding(keys.VIEWER_PARAM_SESSION, "similar_id"),
       explore.UrlBinding("k", "similar_k", lambda v: int(explore.url_number(v)), 10),
       explore.UrlBinding("other_patients", "similar_other_patients",
                          lambda v: v == "1", False, lambda v: "1" if v else "0"),
       explore.UrlBinding("steer", "similar_steer_text", str, ""),
       explore.UrlBinding("compare", "similar_compare", str, None)]
restored = widgets.url_restore(PAGE, URL)
if keys.SIMILAR_SESSION in st.session_state and keys.VIEWER_PARAM_SESSION not in restored:
    st.session_state["similar_id"] = st.session_state.pop(keys.SIMILAR_SESSION)  # older hand-off
for b in URL[1:4]:
    st.session_state.setdefault(b.key, b.default)

source = st.radio("Start from", sources, horizontal=True, key="similar_source")
c_k, c_pat = st.columns([3, 1])
k = c_k.slider("Neighbours", 3, 50, key="similar_k")
other_patients = c_pat.toggle("Exclude same patient", key="similar_other_patients",
                              help="Leave out the query patient's other sessions: they are "
                                   "often the nearest and teach nothing new.")

query_vec, query_id, upload = None, None, None
if source == "Session id":
    query_id = widgets.session_picker("Session", ids, "similar_id")
elif source == "From map selection":
    if not from_map:
        st.info("Select sessions with the lasso on the Cohort map page first.")
        st.stop()
    query_id = st.selectbox("Session from the map selection", from_map, key="similar_map_id")
else:
    upload = upload_query()
    query_vec = upload.embedding

with st.expander("Steer the search with a concept", expanded=False):
    c1, c2, c3 = st.columns([3, 1, 1])
    steer_text = c1.text_input("Concept", key="similar_steer_text",
                               placeholder="benzodiazepine effect")
    direction = c2.radio("Direction", ["with", "without"], key="similar_steer_dir")
    weight = c3.slider("Strength", 0.1, 1.5, 0.5, 0.1, key="similar_steer_w")

patient = None
if query_id is not None and other_patients:
    patient = str(sessions.loc[sessions["session_id"] == query_id, "patient_id"].iloc[0])
n_same = int((sessions["patient_id"].astype(str) == patient).sum()) if patient else 0
try:
    plain, steered = explore.neighbours(state.index(), state.model(), k=k + n_same,
                                        session_id=query_id, vector=query_vec,
                                        steer_text=steer_text,
                                        steer_weight=weight if direction == "with" else -weight)
except Exception as exc:  # noqa: BLE001
    widgets.show_error(exc, stop=True)
plain = explore.drop_same_patient(plain, patient, k)
if steered is not None:
    steered = explore.drop_same_patient(steered, patient, k)
widgets.url_publish(PAGE, URL)

label = query_id or (upload.name if upload else "")
if upload is not None:
    upload_report(plain)
if steered is None:
    st.subheader(f"Nearest neighbours of {label}"
                 + (" (other patients only)" if patient else ""))
    widgets.session_table(plain, "similar_table")
else:
    a, b = st.columns(2)
    a.subheader(f"Like {label}")
    widgets.session_table(plain, "similar_table", container=a)
    b.subheader(f"… {direction} “{steer_text.strip()}”")
    widgets.session_table(steered, "similar_table_steered", container=b)
    effect = explore.steering_effect(plain, steered, steer_text,
                                     task=explore.match_task(steer_text, state.task_info()),
                                     labels=state.labels())
    st.markdown("**What steering changed** (counts among the neighbours)")
    st.dataframe(effect, hide_index=True, key="similar_steer_effect")

top = (steered if steered is not None else plain)["session_id"].head(3).tolist()
if top:
    widgets.open_link(f"Open {top[0]} in the session viewer", page=keys.PAGE_VIEWER,
                      query_params={keys.VIEWER_PARAM_SESSION: top[0]})
if upload is not None and upload.xy is not None:
    upload_map(sessions, upload, plain, top)
if st.toggle("Spectrograms side by side", value=True, key="similar_specs"):
    spectrograms(label, upload, query_id, top)
if query_id is not None and len(plain):
    compare_panel(query_id, (steered if steered is not None else plain)["session_id"].tolist(),
                  PAGE, URL)
