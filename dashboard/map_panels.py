"""The cohort map's panels: the selectable map whose selection lives in the URL (as its shape),
and the selected cohort's table, download and profile (laid out by views/cohort_map.py)."""
from __future__ import annotations

import functools

import keys
import state
import streamlit as st
import widgets

from clef import explore

SHOW_ROWS = 1000  # rows sent to the browser table; the CSV download holds the whole selection
GEN = "_map_chart_gen"  # bumped when the URL's selection changes from outside: a fresh chart
LAST_DRAWN = "_map_drawn_sel"  # the chart's own last selection (encoded)
SHOWN = "_map_shown"  # (figure key, selection drawn into that figure) of the chart on screen
CLEAR = "map_clear_sel"  # the "Clear selection" button


def _fresh_chart(page: str, sel: str | None) -> None:
    """The next chart is a new one (a new key) showing ``sel``, the URL's selection."""
    st.session_state[GEN] = st.session_state.get(GEN, 0) + 1
    st.session_state[LAST_DRAWN] = None
    explore.url_set_published(st.session_state, page, "sel", sel)
    st.session_state.pop(SHOWN, None)


def selectable_map(sessions, figure, fig_key: str, page: str, image: bool) -> str | None:
    """Draw the map and keep its selection in the URL (``sel``); return the selection (encoded).

    ``figure(rows)`` makes the map with those rows drawn selected (None: no selection);
    ``fig_key`` names it (colouring, view, highlighted ids); ``image``: it is an image map
    (:func:`clef.explore.map_view`). Streamlit gives a chart a new
    identity, with an empty selection, whenever its figure changes; so the selection drawn into
    the figure only changes when the figure changes anyway (a new colouring) or when the URL's
    selection changes from outside (Back, a link: a fresh chart). A lasso drawn by the user
    leaves a points chart alone (redrawing it would drop that lasso and the next one); an image
    map, whose image cannot grey the unselected points itself, is replaced at once by a fresh
    chart showing the selection. An empty selection from a chart that was just replaced is not
    the user clearing it."""
    url_sel = st.query_params.get("sel")
    if st.session_state.get(CLEAR) and url_sel is not None:  # the button: no selection
        del st.query_params["sel"]
        url_sel = None
    if url_sel != explore.url_published(st.session_state, page, "sel"):
        _fresh_chart(page, url_sel)
    key = f"map_chart_{st.session_state.get(GEN, 0)}"
    if image:  # an image map: a new lasso is shown by a fresh chart
        pending = explore.encode_selection((st.session_state.get(key) or {}).get("selection"))
        if pending is not None and pending != url_sel:
            st.query_params["sel"] = url_sel = pending
            _fresh_chart(page, pending)
            key = f"map_chart_{st.session_state.get(GEN, 0)}"
    shown_key, shown_sel = st.session_state.get(SHOWN, (None, None))
    same_chart = shown_key == fig_key and key in st.session_state  # (widget state: not a new page)
    if not same_chart:
        shown_sel = url_sel
        st.session_state[LAST_DRAWN] = None
    st.session_state[SHOWN] = (fig_key, shown_sel)
    restored = explore.selected_rows(sessions, explore.decode_selection(shown_sel))
    fig = figure(restored if len(restored) else None)
    event = st.plotly_chart(fig, key=key, on_select="rerun",
                            selection_mode=("points", "box", "lasso"), width="stretch")
    drawn = explore.encode_selection(event.selection if event else None)
    if drawn is not None:
        sel = drawn
    elif same_chart and st.session_state.get(LAST_DRAWN) is not None:
        sel = None  # the user cleared the chart's own selection (double click)
    else:
        sel = url_sel
    st.session_state[LAST_DRAWN] = drawn
    if sel != url_sel:
        if sel is None:
            del st.query_params["sel"]
        else:
            st.query_params["sel"] = sel
        explore.url_set_published(st.session_state, page, "sel", sel)
    if sel is not None:
        st.button("Clear selection", key=CLEAR)
    return sel


def selection_panel(sessions, rows) -> None:
    """The selected sessions: table, CSV, profile against the rest, hand-off to similar."""
    ids = sessions["session_id"].iloc[rows]  # (only the shown rows are copied whole)
    st.session_state[keys.MAP_SELECTED_IDS] = ids.tolist()
    st.subheader(f"Selected cohort: {len(rows):,} of {len(sessions):,} sessions")
    widgets.session_table(sessions.iloc[rows[:SHOW_ROWS]], "map_selected_table", height=260)
    if len(rows) > SHOW_ROWS:
        st.caption(f"Showing the first {SHOW_ROWS:,}; the CSV holds all {len(rows):,}.")
    st.download_button("Download selection (CSV)",
                       functools.partial(_csv, sessions, rows),
                       file_name="selected_sessions.csv", mime="text/csv", key="map_download")

    profile = explore.cohort_profile(sessions, explore.rows_to_mask(rows, len(sessions)),
                                     prepared=state.profile_prep())
    st.subheader("Profile against the rest")
    left, right = st.columns([1, 2])
    left.dataframe(profile.numeric.round(3), hide_index=True, width="stretch", key="map_numeric")
    names = state.diagnosis_names()
    right.plotly_chart(explore.profile_figure(profile, names=names), width="stretch",
                       key="map_profile_fig")
    st.dataframe(explore.profile_table(profile, names=names), hide_index=True, width="stretch",
                 height=320, key="map_profile_table")
    widgets.open_link("Find sessions similar to the first selected", page=keys.PAGE_SIMILAR,
                      query_params={keys.VIEWER_PARAM_SESSION: str(ids.iloc[0])})


def _csv(sessions, rows) -> bytes:
    """The selected rows as CSV, made when the download is asked for."""
    return explore.to_csv_bytes(sessions.iloc[rows])
