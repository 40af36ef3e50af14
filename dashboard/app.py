"""CLEF explorer: Streamlit entry point (router). Run with `clef dashboard` or `make demo`.

    streamlit run dashboard/app.py -- [--bundle DIR] [--store S] [--index I] [--checkpoint C]
"""
from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent


def _keep_on_sys_path(folder: str) -> None:
    """Put ``folder`` (pages import ``state`` from it) on sys.path for good.

    Streamlit prepends the script's folder to sys.path for each run and removes it afterwards
    unless it is already there. Removing an entry shifts sys.path under imports running in other
    threads (the model warm-up, other browser sessions), which can then skip site-packages (seen:
    "No module named 'torch'" in the warm-up thread). So Streamlit's entry is dropped now, before
    the warm-up starts, and two copies go at the end: its removal after this run takes one of
    them, which shifts nothing else, and later runs leave sys.path alone.
    """
    if folder in sys.path[1:]:
        return
    if sys.path and sys.path[0] == folder:
        del sys.path[0]
    sys.path.extend([folder, folder])


_keep_on_sys_path(str(HERE))

import keys
import state
import widgets

st.set_page_config(page_title="CLEF explorer", page_icon=":material/neurology:", layout="wide")

# Page scripts live in views/, not pages/: Streamlit still auto-discovers a pages/ folder as
# old-style pages, which hijacks deep links (/session_viewer ran without this router).
# Streamlit serves the default page at "/" only: its own url_path answers "Page not found". So the
# default page takes an unused path and a hidden page owns "/map", sending the browser to "/" (the
# same page, highlighted in the menu) with the link's query parameters.
MAP_PAGE = st.Page(HERE / keys.PAGE_MAP, title="Cohort map", icon=":material/scatter_plot:",
                   url_path="cohort_map", default=True)


def _map_deep_link() -> None:
    st.switch_page(MAP_PAGE, query_params=st.query_params.to_dict())


PAGES = [
    MAP_PAGE,
    st.Page(_map_deep_link, title="Cohort map", url_path="map", visibility="hidden"),
    st.Page(HERE / keys.PAGE_SEARCH, title="Concept search", icon=":material/search:",
            url_path="search"),
    st.Page(HERE / keys.PAGE_SIMILAR, title="Similar sessions",
            icon=":material/group_work:", url_path="similar"),
    st.Page(HERE / keys.PAGE_VIEWER, title="Session viewer", icon=":material/monitor_heart:",
            url_path="viewer"),
    st.Page(HERE / keys.PAGE_COMPARE, title="Compare two sessions", icon=":material/compare:",
            url_path="compare"),
    st.Page(HERE / keys.PAGE_MODEL, title="Model", icon=":material/description:", url_path="model"),
]
page = st.navigation(PAGES)

with st.sidebar:
    try:
        info = state.bundle_summary()
    except Exception as exc:  # noqa: BLE001 - shown to the user, the app stops cleanly
        widgets.show_error(exc, stop=True)
    st.caption(f"**{info['sessions']:,} sessions** · model `{info['model']}` · "
               f"{info['dim']}-d embeddings")
    st.caption(f"data: `{info['bundle']}`")

state.limit_native_threads()  # BLAS/OpenMP pools at one thread (see state.limit_native_threads)
state.warm_up()  # once per process, alongside the first page (see state.warm_up)
widgets.note_page(page.url_path)
page.run()
