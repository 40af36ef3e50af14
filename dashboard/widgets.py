"""Widgets reused by several pages: session pickers and tables, error messages, "open in" buttons.

Library logic stays in :mod:`clef.explore`; these only draw it with Streamlit.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from clef import explore

PICKER_MAX = 5000  # above this many sessions, pickers are a text box (a selectbox ships every id)


def session_picker(label: str, ids: list[str], key: str, default: str | None = None) -> str:
    """Pick a session: a selectbox for small cohorts, an id text box for large ones.

    Parameters
    ----------
    label : str
    ids : list of str
        Every session id, in table order.
    key : str
        Widget key.
    default : str, optional
        Preselected id (e.g. sent from another page).

    Returns
    -------
    str
        A valid session id (the page stops with an error for an unknown typed id).
    """
    known = set(ids)
    if len(ids) <= PICKER_MAX and st.session_state.get(key, ids[0]) not in known:
        st.session_state.pop(key, None)  # e.g. a link to a session of another cohort
    if key not in st.session_state:
        # set explicitly (never a widget default): a value the URL dropped (Back) must replace
        # what the browser's widget still shows, and only a state value is sent to it
        st.session_state[key] = default if default in known else ids[0]
    if len(ids) <= PICKER_MAX:
        return st.selectbox(label, ids, key=key)
    value = st.text_input(f"{label} id", key=key).strip()
    if value not in known:
        st.error(f"No session {value!r} in this cohort ({len(ids):,} sessions). Fix: paste an id "
                 "from a table or the map.")
        st.stop()
    return value


def session_table(rows: pd.DataFrame, key: str, *, compact: bool = False,
                  height: int | None = None, container: Any = st) -> None:
    """A table of sessions (:func:`clef.explore.display_table`) without the index column.

    Parameters
    ----------
    rows : pd.DataFrame
        Sessions (search results, neighbours, a selection).
    key : str
        Widget key.
    compact : bool
        Fewer columns, for side-by-side tables.
    height : int, optional
        Pixels; None = Streamlit's default.
    container : streamlit container
        Where to draw (``st``, a column, an expander).
    """
    kwargs = {} if height is None else {"height": height}
    container.dataframe(explore.display_table(rows, compact=compact), hide_index=True,
                        width="stretch", key=key, **kwargs)


def show_error(exc: BaseException, container: Any = st, *, stop: bool = False) -> None:
    """Show an exception as the user-facing message (:func:`clef.errors.error_message`).

    Parameters
    ----------
    exc : BaseException
    container : streamlit container
    stop : bool
        Stop the page after the message (nothing below can be drawn without the failed value).
    """
    container.error(explore.error_message(exc))
    if stop:
        st.stop()


PAGE_RUN = "_url_page"  # the page the previous script run drew
ENTERED = "_url_entered"  # this run is the first of its page after another page (or a reload)


def note_page(name: str) -> None:
    """Remember which page this run draws (app.py, before the page runs): its first run after
    another page, or after a reload, is an entry (see :func:`url_publish`)."""
    st.session_state[ENTERED] = st.session_state.get(PAGE_RUN) != name
    st.session_state[PAGE_RUN] = name


def url_restore(page: str, bindings: list) -> list[str]:
    """Apply the URL's query parameters that changed outside ``page`` to its widgets
    (:func:`clef.explore.url_restore`); call before the widgets are drawn.

    A parameter that left the URL (Back to an older state) puts its widget back to the binding's
    default *explicitly*: a dropped widget state would let the browser keep showing the old
    value (Streamlit sends a widget's value to the browser only when it comes from state)."""
    applied = explore.url_restore(st.query_params, st.session_state, page, bindings)
    for b in bindings:
        if b.param in applied and b.key not in st.session_state and b.default is not None:
            st.session_state[b.key] = b.default
    return applied


def _fragment_run() -> bool:
    """True in a run of fragments only (app.py, and so :func:`note_page`, did not run)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def url_publish(page: str, bindings: list) -> None:
    """Write ``page``'s bound widgets to the URL (:func:`clef.explore.url_publish`); call after
    the widgets are drawn.

    Not on the first run of a page entered from the menu: Streamlit would push that write under
    the previous page's path (a wrong extra Back step, e.g. ``/search?session=...``), so the
    URL's values are adopted instead and the next interaction writes the page's state."""
    if st.session_state.get(ENTERED) and not _fragment_run():
        explore.url_adopt(st.query_params, st.session_state, page, bindings)
    else:
        explore.url_publish(st.query_params, st.session_state, page, bindings)


def open_link(label: str, *, page: str, query_params: dict, container: Any = st) -> None:
    """A link to another page with ``query_params`` in its URL (shareable; Back returns here).

    The browser opens the page itself: unlike :func:`open_button`, this page is not run again
    first (~0.3 s on the map with a selection).

    Parameters
    ----------
    label : str
    page : str
        Page script, one of the ``keys.PAGE_*`` names.
    query_params : dict
        e.g. ``{keys.VIEWER_PARAM_SESSION: "A-P000001-S0-D600"}`` for the viewer.
    container : streamlit container
    """
    container.page_link(page, label=label, icon=":material/arrow_forward:",
                        query_params=query_params)


def open_button(label: str, key: str, *, page: str, state_key: str, value,
                container: Any = st) -> None:
    """A button that hands ``value`` to another page (``st.session_state[state_key]``) and opens
    it (for what does not fit in a URL, e.g. a list of highlighted sessions; else
    :func:`open_link`).

    Parameters
    ----------
    label : str
    key : str
        Widget key.
    page : str
        Page script, one of the ``keys.PAGE_*`` names.
    state_key : str
        One of the cross-page keys in ``keys``.
    value : object
        What the other page reads.
    container : streamlit container
    """
    if container.button(label, key=key):
        st.session_state[state_key] = value
        st.switch_page(page)
