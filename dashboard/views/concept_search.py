"""Concept search: free text -> ranked sessions, score histogram, AUROC vs a matching task."""
from __future__ import annotations

import keys
import state
import streamlit as st
import widgets

from clef import explore

st.title("Concept search")
sessions = state.sessions()
labels = state.labels()

examples = explore.example_queries()
pick = st.pills("Workshop examples", examples, key="search_example")
if pick and st.session_state.get("_search_last_pick") != pick:
    st.session_state["search_query"] = pick  # set before the text box is drawn
st.session_state["_search_last_pick"] = pick
query = st.text_input("Describe what you are looking for", key="search_query",
                      placeholder="e.g. left temporal sharp waves")

with st.expander("Filters", expanded=False):
    f = explore.filter_choices(sessions)
    c1, c2, c3 = st.columns(3)
    site = c1.multiselect("Site", f["site"], key="search_site")
    sex = c2.multiselect("Sex", f["sex"], key="search_sex")
    setting = c3.multiselect("Setting", f["setting"], key="search_setting")
    age = st.slider("Age", f["age"][0], f["age"][1], f["age"], key="search_age")
    c4, c5 = st.columns(2)
    dx = c4.text_input("Diagnosis code prefix (ICD-10)", key="search_dx", placeholder="G40")
    meds = c5.multiselect("Medication", f["medications"], key="search_meds")
k = st.slider("Results", 5, 100, 20, key="search_k")
filters = explore.build_filters(site=site, sex=sex, setting=setting, age=age,
                                full_age=f["age"], diagnosis=dx, medication=meds)

if not query or not query.strip():
    st.info("Type a concept, or pick one of the examples above.")
    st.stop()

try:
    results = state.index().by_text(query, state.model(), k=k, **filters)
    scores = state.concept_scores(query)
except Exception as exc:  # noqa: BLE001 - bad query or filter: message, page keeps working
    widgets.show_error(exc, stop=True)

st.subheader(f"Top {len(results)} sessions for “{query.strip()}”")
widgets.session_table(results, "search_results", height=360)
b1, b2 = st.columns(2)
widgets.open_button("Show these on the cohort map", "search_to_map", page=keys.PAGE_MAP,
                    state_key=keys.MAP_HIGHLIGHT_IDS, value=results["session_id"].tolist(),
                    container=b1)
if len(results):
    first = str(results["session_id"].iloc[0])
    widgets.open_button(f"Open {first} in the session viewer", "search_to_viewer",
                        page=keys.PAGE_VIEWER, state_key=keys.VIEWER_SESSION, value=first,
                        container=b2)

ev = explore.query_evaluation(query, scores, sessions, labels, state.task_info())
c1, c2 = st.columns([2, 1])
c1.plotly_chart(explore.score_histogram(scores, ev.positives, title="Scores of every session"),
                width="stretch", key="search_hist")
if ev.task is not None:
    c2.metric(f"AUROC vs task `{ev.task}`", f"{ev.auroc:.3f}" if ev.auroc == ev.auroc else "n/a",
              help=f"{ev.n_pos} positives, {ev.n_neg} negatives; 0.5 = chance")
else:
    c2.caption("No task matches this query exactly, so there is no AUROC. Queries naming a task "
               "or concept (e.g. an example above) are scored against its labels.")

st.subheader("Compare two queries")
query_b = st.text_input("Second query", "generalized slowing", key="search_query_b")
if query_b and query_b.strip():
    try:
        scores_b = state.concept_scores(query_b)
        color = (explore.color_values(f"task:{ev.task}", sessions, labels)
                 if ev.task is not None else sessions.get("site"))
        st.plotly_chart(explore.two_query_figure(scores, scores_b, query.strip(), query_b.strip(),
                                                 color=color, hover=state.hover()),
                        width="stretch", key="search_scatter")
    except Exception as exc:  # noqa: BLE001
        widgets.show_error(exc)
