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
    if len(ids) <= PICKER_MAX and st.session_state.get(key, ids[0]) not in set(ids):
        del st.session_state[key]  # e.g. a link to a session of another cohort
    if key in st.session_state:  # set from the URL: the widget takes it, no default competes
        default = None
    if len(ids) <= PICKER_MAX:
        return st.selectbox(label, ids, index=ids.index(default) if default in ids else 0,
                            key=key)
    if key not in st.session_state:
        st.session_state[key] = default or ids[0]
    value = st.text_input(f"{label} id", key=key).strip()
    if value not in set(ids):
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


def url_restore(page: str, bindings: list) -> list[str]:
    """Apply the URL's query parameters that changed outside ``page`` to its widgets
    (:func:`clef.explore.url_restore`); call before the widgets are drawn."""
    return explore.url_restore(st.query_params, st.session_state, page, bindings)


def url_publish(page: str, bindings: list) -> None:
    """Write ``page``'s bound widgets to the URL (:func:`clef.explore.url_publish`); call after
    the widgets are drawn."""
    explore.url_publish(st.query_params, st.session_state, page, bindings)


def open_button(label: str, key: str, *, page: str, state_key: str | None = None, value=None,
                container: Any = st, query_params: dict | None = None) -> None:
    """A button that hands ``value`` to another page (``st.session_state[state_key]``) and opens it.

    With ``query_params`` the other page gets them in its URL instead (a link that can be shared
    and that Back returns to), e.g. ``{keys.VIEWER_PARAM_SESSION: "A-P000001-S0-D600"}`` for the viewer.

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
        if state_key is not None:
            st.session_state[state_key] = value
        st.switch_page(page, query_params=query_params)
