"""Cohort map: UMAP of session embeddings with named clusters; colour, hover, lasso/box selection
-> table + profile. Colour, view, concept and the selection (as its shape) live in the URL."""
from __future__ import annotations

import functools

import keys
import numpy as np
import state
import streamlit as st
import widgets

from clef import explore

SHOW_ROWS = 1000  # rows sent to the browser table; the CSV download holds the whole selection
PAGE = "map"
GEN = "_map_chart_gen"  # bumped when the URL's selection changes from outside: a fresh chart
LAST_DRAWN = "_map_drawn_sel"  # the chart's own last selection (encoded)

st.title("Cohort map")
sessions = state.sessions()
if "x" not in sessions.columns:
    st.warning("This bundle has no cohort map (no `map/` folder inside the index). Fit one with "
               "`clef map --index INDEX` (or `clef index`, which fits it by default).")
    st.stop()
labels = state.labels()
options = explore.color_options(sessions, labels)
CONCEPT = "concept score…"

COLOURS = ["(none)", CONCEPT, *options]
URL = [explore.UrlBinding("color", "map_color", explore.url_choice(COLOURS),
                          "site" if "site" in options else "(none)"),
       explore.UrlBinding("concept", "map_concept", str, "benzodiazepine effect"),
       explore.UrlBinding("view", "map_view", explore.url_choice(["auto", "scatter", "density"]),
                          "auto")]
widgets.url_restore(PAGE, URL)
for b in URL:
    st.session_state.setdefault(b.key, b.default)

c1, c2, c3 = st.columns([2, 2, 1])
color_by = c1.selectbox("Colour by", COLOURS, key="map_color")
concept = None
if color_by == CONCEPT:
    concept = c2.text_input("Concept", key="map_concept")
view = c3.radio("View", ["auto", "scatter", "density"], horizontal=True, key="map_view",
                help="auto: density with a selectable subsample above "
                     f"{explore.DENSITY_THRESHOLD:,} sessions")

color, color_name, color_key = None, "", "(none)"  # color_key names the colouring (cache key)
try:
    if color_by == CONCEPT and concept:
        color, color_name = explore.as_series(state.concept_scores(concept)), concept
        color_key = f"concept:{concept}"
    elif color_by in options:
        color, color_name = explore.color_values(options[color_by], sessions, labels), color_by
        color_key = options[color_by]
except Exception as exc:  # noqa: BLE001 - bad query: tell the user, keep the map
    widgets.show_error(exc)

highlight_ids = list(st.session_state.get(keys.MAP_HIGHLIGHT_IDS, []))
highlight = state.highlight_mask(highlight_ids)
fig = state.map_figure(color_key, color, color_name, view, highlight_ids)  # cached: built once
missing = int(sessions["x"].isna().sum())
if missing:
    st.caption(f"{missing:,} sessions are not on the map (embedded after it was fitted; refit "
               "it with `clef map --index INDEX` to place them).")
# The selection lives in the URL as its shape. Back or a link that changes it gets a fresh chart
# (the old one would still show the previous lasso) and the URL's selection drawn on it.
url_sel = st.query_params.get("sel")
if url_sel != explore.url_published(st.session_state, PAGE, "sel"):
    st.session_state[GEN] = st.session_state.get(GEN, 0) + 1
    st.session_state[LAST_DRAWN] = None
    explore.url_set_published(st.session_state, PAGE, "sel", url_sel)
restored = explore.selected_rows(sessions, explore.decode_selection(url_sel))
event = st.plotly_chart(explore.with_selection(fig, restored) if len(restored) else fig,
                        key=f"map_chart_{st.session_state.get(GEN, 0)}", on_select="rerun",
                        selection_mode=("points", "box", "lasso"), width="stretch")
drawn = explore.encode_selection(event.selection if event else None)
if drawn is not None:
    sel = drawn
elif st.session_state.get(LAST_DRAWN) is not None:
    sel = None  # the user cleared the chart's selection (double click)
else:
    sel = url_sel
st.session_state[LAST_DRAWN] = drawn
if sel != url_sel:
    if sel is None:
        del st.query_params["sel"]
    else:
        st.query_params["sel"] = sel
    explore.url_set_published(st.session_state, PAGE, "sel", sel)
widgets.url_publish(PAGE, URL)

rows = explore.selected_rows(sessions, explore.decode_selection(sel))
if len(rows) == 0 and highlight.any():
    rows = np.flatnonzero(highlight)
    st.caption("Showing the sessions sent from another page; draw a lasso to select others.")
    if st.button("Clear these", key="map_clear_highlight"):
        st.session_state.pop(keys.MAP_HIGHLIGHT_IDS, None)
        st.rerun()
if len(rows) == 0:
    st.info("Draw a lasso around sessions on the map to profile them against the rest (box "
            "select and zoom are in the chart's toolbar).")
    st.stop()

selected = sessions.iloc[rows]
st.session_state[keys.MAP_SELECTED_IDS] = selected["session_id"].tolist()
st.subheader(f"Selected cohort: {len(selected):,} of {len(sessions):,} sessions")
widgets.session_table(selected.head(SHOW_ROWS), "map_selected_table", height=260)
if len(selected) > SHOW_ROWS:
    st.caption(f"Showing the first {SHOW_ROWS:,}; the CSV holds all {len(selected):,}.")
st.download_button("Download selection (CSV)", functools.partial(explore.to_csv_bytes, selected),
                   file_name="selected_sessions.csv", mime="text/csv", key="map_download")

profile = explore.cohort_profile(sessions, explore.rows_to_mask(rows, len(sessions)),
                                 exploded=state.exploded())
st.subheader("Profile against the rest")
left, right = st.columns([1, 2])
left.dataframe(profile.numeric.round(3), hide_index=True, width="stretch", key="map_numeric")
names = state.diagnosis_names()
right.plotly_chart(explore.profile_figure(profile, names=names), width="stretch",
                   key="map_profile_fig")
st.dataframe(explore.profile_table(profile, names=names), hide_index=True, width="stretch",
             height=320, key="map_profile_table")
widgets.open_button("Find sessions similar to the first selected", "map_to_similar",
                    page=keys.PAGE_SIMILAR,
                    query_params={keys.VIEWER_PARAM_SESSION: str(selected["session_id"].iloc[0])})
