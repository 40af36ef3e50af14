"""Cohort map: UMAP of session embeddings with named clusters; colour, hover, lasso/box selection
-> table + profile. Colour, view, concept and the selection (as its shape) live in the URL."""
from __future__ import annotations

import keys
import numpy as np
import state
import streamlit as st
import widgets
from map_panels import selectable_map, selection_panel

from clef import explore

PAGE = "map"

st.title("Cohort map")
sessions = state.sessions()
if "x" not in sessions.columns:
    st.warning("This bundle has no cohort map (no `map/` folder inside the index). Fit one with "
               "`clef map --index INDEX` (or `clef index`, which fits it by default).")
    st.stop()
options = state.color_options()
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
                help=f"auto: above {explore.IMAGE_MIN:,} sessions the map is drawn as an image "
                     "(quick to draw; hover shows the session on top of each spot, "
                     f"{explore.IMAGE_SAMPLE:,} of them are points to click); scatter: every "
                     "session a point (slower to draw); density: how many sessions lie where")

color, color_name, color_key = None, "", "(none)"  # color_key names the colouring (cache key)
try:
    if color_by == CONCEPT and concept:
        color, color_name = explore.as_series(state.concept_scores(concept)), concept
        color_key = f"concept:{concept}"
    elif color_by in options:
        color, color_name = state.color_values(options[color_by]), color_by
        color_key = options[color_by]
except Exception as exc:  # noqa: BLE001 - bad query: tell the user, keep the map
    widgets.show_error(exc)

highlight_ids = list(st.session_state.get(keys.MAP_HIGHLIGHT_IDS, []))
highlight = state.highlight_mask(highlight_ids)

def figure(rows):  # cached per colouring, view, highlight and selection
    return state.map_figure(color_key, color, color_name, view, highlight_ids, rows)


missing = int(sessions["x"].isna().sum())
if missing:
    st.caption(f"{missing:,} sessions are not on the map (embedded after it was fitted; refit "
               "it with `clef map --index INDEX` to place them).")
fig_key = f"{color_key}|{view}|{explore.ids_key(highlight_ids)}"
image = explore.map_view(int(sessions["x"].notna().sum()), view) == "image"
sel = selectable_map(sessions, figure, fig_key, PAGE, image)  # the selection lives in the URL as its shape
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

selection_panel(sessions, rows)
