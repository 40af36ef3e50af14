"""Cached loaders shared by the dashboard pages.

The bundle location comes from the command line (``streamlit run dashboard/app.py -- --store S
--index I --checkpoint C``), else the environment (``CLEF_BUNDLE``, ``CLEF_STORE``, ``CLEF_INDEX``,
``CLEF_CHECKPOINT``, ``CLEF_COHORT``, ``CLEF_MAP``), else ``data_samples/``. Model, index, store and
map load once per process (``st.cache_resource``); tables and per-session results are
``st.cache_data``.
"""
from __future__ import annotations

import argparse
import functools
import hashlib
import os
import sys
import threading

import numpy as np
import pandas as pd
import streamlit as st

from clef import explore
from clef.bundle import Bundle

ENV = {"root": "CLEF_BUNDLE", "store": "CLEF_STORE", "index": "CLEF_INDEX",
       "checkpoint": "CLEF_CHECKPOINT", "cohort": "CLEF_COHORT", "map": "CLEF_MAP"}


def bundle_args() -> dict:
    """Bundle paths from CLI args (after ``--``) overriding environment variables."""
    return dict(_parsed_args(tuple(sys.argv[1:]), tuple(os.environ.get(e) for e in ENV.values())))


@functools.lru_cache(maxsize=8)  # parsed once per (arguments, environment): ~1 ms a call
def _parsed_args(argv: tuple, env: tuple) -> tuple:
    p = argparse.ArgumentParser(add_help=False)
    for name in ENV:
        p.add_argument(f"--{'bundle' if name == 'root' else name}", dest=name, default=None)
    known, _ = p.parse_known_args(list(argv))
    return tuple((k, getattr(known, k) or e or None) for k, e in zip(ENV, env))


@functools.lru_cache(maxsize=8)  # a page asks ~10 times a run: st.cache_resource took ~1 ms each
def _bundle(root, store, index, checkpoint, cohort, map_) -> Bundle:
    return Bundle.locate(root, store=store, index=index, checkpoint=checkpoint, cohort=cohort,
                         map=map_)


def bundle() -> Bundle:
    return _bundle(*bundle_args().values())


# Interactive requests are single queries: one thread each is fastest, and Streamlit serves every
# browser session in its own thread, so multi-threaded BLAS/OpenMP would oversubscribe the cores
# (measured: a 10k FAISS query 32 ms with 2 threads on a busy 2-core machine vs 0.12 ms with 1).
THREADS = int(os.environ.get("CLEF_DASHBOARD_THREADS", "1"))


@st.cache_resource(show_spinner="Loading the model…")
def _model(path: str):
    import torch

    from clef.model import CLEFModel

    torch.set_num_threads(THREADS)
    from clef.index import concept_linker

    m = CLEFModel.from_pretrained(path)
    m.eval()
    concept_linker(m).prepare()  # the vocabulary queries are linked to (cached on disk)
    return m


@st.cache_resource(show_spinner=False)
def _checked(index_path: str, checkpoint: str) -> bool:
    """Refuse (CheckpointMismatch) an index built with another model, once per pair."""
    _index(index_path).check_model(_model(checkpoint))
    return True


def model():
    """The CLEF model, checked against the index it will query."""
    b = bundle()
    _checked(str(b.index), str(b.checkpoint))
    return _model(str(b.checkpoint))


@st.cache_resource(show_spinner="Loading the index…")
def _index(path: str):
    import faiss

    from clef.index import SessionIndex

    faiss.omp_set_num_threads(THREADS)
    return SessionIndex.load(path)


def index():
    """The session index (loaded without the model: the map page needs no model)."""
    return _index(str(bundle().index))


_warm = {"started": False}
WARM_UP_THREAD = "clef-model-warm-up"


_limited = {"modules": -1}  # len(sys.modules) when the pools were last limited


def limit_native_threads() -> None:
    """Hold every native thread pool (numpy's and scipy's OpenBLAS, OpenMP) at ``THREADS``.

    Called at the start of every script run; it looks for thread pools again only when modules
    were imported since (``threadpoolctl`` walks every loaded library: ~5 ms), so libraries such as
    scipy's own OpenBLAS are limited as they appear. Multi-threaded BLAS spin-waits on a busy
    machine: MNE's topomap took 0.8 s with 2 OpenBLAS threads vs 0.02 s with 1 on the shared 2-core
    machine of benchmarks/results/dashboard_browser.md.
    """
    n_modules = len(sys.modules)  # native libraries arrive with imports: none new, nothing to do
    if _limited["modules"] == n_modules:
        return
    from threadpoolctl import threadpool_limits

    threadpool_limits(THREADS)
    _limited["modules"] = n_modules


def warm_up() -> None:
    """Load the model in a background thread once per process, so the first search is quick.

    Called at the start of the first script run: importing torch holds the GIL for long stretches
    (C extension set-up), so the import runs while the first page is drawn rather than under the
    user's first clicks (measured at 10k sessions: a map rerun overlapping it took 0.36-0.9 s
    instead of ~0.07 s; see benchmarks/results/dashboard.md).
    """
    if _warm["started"]:
        return
    _warm["started"] = True
    b = bundle()
    threading.Thread(target=_model, args=(str(b.checkpoint),), daemon=True,
                     name=WARM_UP_THREAD).start()


@st.cache_resource(show_spinner="Opening the embedding store…")
def _store(path: str):
    from clef.store import EmbeddingStore

    return EmbeddingStore.open(path)


def store():
    return _store(str(bundle().store))


def _optional(path) -> str | None:
    """A bundle part's folder as a cache key: its path as text, None when the bundle has none."""
    return str(path) if path else None


@st.cache_resource(show_spinner="Loading the cohort map…")
def _cohort_map(path: str | None):
    from clef.maps import CohortMap

    return None if path is None else CohortMap.load(path)


def cohort_map():
    return _cohort_map(_optional(bundle().map))


@st.cache_resource(show_spinner=False)
def _cohort(path: str | None):
    from clef.cohort import Cohort

    return None if path is None else Cohort.load(path)


def cohort():
    return _cohort(_optional(bundle().cohort))


# ---- tables ----------------------------------------------------------------------------------
# The session and label tables are large (100k rows at scale) and only read: they are shared as
# resources rather than pickled and copied by st.cache_data on every call (measured: the 10k-session
# table takes >1 s to pickle; see benchmarks/results/dashboard.md). Small tables use st.cache_data.

@st.cache_resource(show_spinner=False)
def _sessions(index_path: str, map_path: str | None) -> pd.DataFrame:
    idx = _index(index_path)
    cmap = _cohort_map(map_path)
    return explore.session_table(idx.sessions, cmap.coords if cmap is not None else None)


def _table_key() -> tuple[str, str | None]:
    """The session table's cache key: the index folder and the map folder (None without a map)."""
    b = bundle()
    return str(b.index), _optional(b.map)


def sessions() -> pd.DataFrame:
    """Session metadata in index row order, with map coordinates ``x``/``y`` when a map exists."""
    return _sessions(*_table_key())


@st.cache_resource(show_spinner=False)  # read-only; 100k x 200 tasks is too big to copy per call
def _labels(index_path: str) -> pd.DataFrame | None:
    lab = _index(index_path).labels
    if lab is None:
        return None
    return lab.set_index("session_id") if "session_id" in lab.columns else lab


def labels() -> pd.DataFrame | None:
    """Wide task labels indexed by session_id (None when the index has none)."""
    b = bundle()
    return _labels(str(b.index))


@st.cache_data(show_spinner=False)
def _task_info(cohort_path: str | None) -> pd.DataFrame:
    c = _cohort(cohort_path)
    if c is None:
        return pd.DataFrame(columns=["task", "category", "held_out", "concept"])
    return c.task_info()


def task_info() -> pd.DataFrame:
    return _task_info(_optional(bundle().cohort))


@st.cache_resource(show_spinner=False)
def _prepared(index_path: str, map_path: str | None):
    return explore.prepare_profile(_sessions(index_path, map_path))


def profile_prep():
    """What every cohort profile reuses (:func:`clef.explore.prepare_profile`: list columns
    exploded, numeric columns ranked), computed once per bundle."""
    return _prepared(*_table_key())


@st.cache_resource(show_spinner=False)
def _names(index_path: str, map_path: str | None) -> dict:
    return explore.diagnosis_names(_sessions(index_path, map_path))


def diagnosis_names() -> dict:
    """ICD-10 code -> diagnosis name (vocabulary, then the cohort's own pairs), once per bundle."""
    return _names(*_table_key())


@st.cache_resource(show_spinner="Naming the map's clusters…")
def _clusters(index_path: str, map_path: str | None) -> pd.DataFrame:
    return explore.map_clusters(_sessions(index_path, map_path),
                                prepared=_prepared(index_path, map_path),
                                names=_names(index_path, map_path))


def map_clusters() -> pd.DataFrame:
    """Named clusters of the cohort map (:func:`clef.explore.map_clusters`), once per bundle."""
    return _clusters(*_table_key())


@st.cache_resource(show_spinner=False)
def _filter_choices(index_path: str, map_path: str | None) -> dict:
    return explore.filter_choices(_sessions(index_path, map_path))


def filter_choices() -> dict:
    """Concept-search filter options (:func:`clef.explore.filter_choices`), once per bundle:
    listing the medications explodes every session's list (~0.3 s a rerun at 100k sessions)."""
    return _filter_choices(*_table_key())


@st.cache_resource(show_spinner=False)
def _color_options(index_path: str, map_path: str | None) -> dict:
    return explore.color_options(_sessions(index_path, map_path), _labels(index_path))


def color_options() -> dict:
    """The map's colour-by choices (:func:`clef.explore.color_options`), once per bundle."""
    return _color_options(*_table_key())


@st.cache_resource(show_spinner=False, max_entries=16)
def _color_values(index_path: str, map_path: str | None, source: str) -> pd.Series:
    return explore.color_values(source, _sessions(index_path, map_path), _labels(index_path))


def color_values(source: str) -> pd.Series:
    """Colour values of a :func:`color_options` source in :func:`sessions` row order, once per
    source (a task's labels are looked up by session id: ~50 ms at 100k sessions). Shared: do
    not modify."""
    return _color_values(*_table_key(), source)


@st.cache_resource(show_spinner=False)
def _hover(index_path: str, map_path: str | None) -> np.ndarray:
    return explore.hover_text(_sessions(index_path, map_path))


def hover() -> np.ndarray:
    """Hover summary per session (:func:`clef.explore.hover_text`), built once per bundle."""
    return _hover(*_table_key())


# ---- cohort map ------------------------------------------------------------------------------
# The figure is the same on most reruns (a lasso, a table click, a rerun after a selection): it is
# built once per (bundle, colour, view, highlighted sessions) and shared, so a rerun only pays
# st.plotly_chart's serialisation. The highlighted ids enter the key as a digest
# (explore.ids_key), the colour values under a name (color_key): Streamlit does not hash the
# arrays themselves.


@st.cache_resource(show_spinner=False, max_entries=8)
def _highlight(index_path: str, map_path: str | None, key: str, _ids: list) -> np.ndarray:
    mask = explore.selection_mask(_sessions(index_path, map_path)["session_id"], _ids)
    mask.setflags(write=False)  # shared between reruns and browser sessions
    return mask


def highlight_mask(ids) -> np.ndarray:
    """Read-only boolean mask over :func:`sessions` rows of the given ids (cached per id list)."""
    ids = list(ids)
    return _highlight(*_table_key(), explore.ids_key(ids), ids)


@st.cache_resource(show_spinner=False, max_entries=16)
def _map_figure(index_path: str, map_path: str | None, model_key: str, color_key: str,
                color_name: str, view: str, highlight_key: str, selected_key: str, _color,
                _highlight, _selected):
    fig = explore.map_figure(_sessions(index_path, map_path), color=_color,
                             color_name=color_name, hover=_hover(index_path, map_path),
                             highlight=_highlight, mode=view, selected=_selected)
    return explore.add_cluster_labels(fig, _clusters(index_path, map_path))


def map_figure(color_key: str, color, color_name: str, view: str, highlight_ids, selected=None):
    """The cohort map (:func:`clef.explore.map_figure`), built once per colour, view, highlight
    and selection.

    Parameters
    ----------
    color_key : str
        Identifies ``color`` (e.g. the colour option, or the concept query): figures are cached
        under it, so two different colourings must never share a key.
    color : pd.Series or None
        Values to colour by, in :func:`sessions` row order.
    color_name : str
        Legend / colour-bar title.
    view : {"auto", "scatter", "density"}
    highlight_ids : list of str
        Sessions drawn with a ring.
    selected : array of int, optional
        Row positions drawn selected (the others grey).

    Returns
    -------
    go.Figure
        Shared by every rerun and browser session with the same key: do not modify it.
    """
    b = bundle()
    ids = list(highlight_ids)
    model_key = f"{b.store}|{b.checkpoint}"  # concept colours depend on the model and store
    rows = None if selected is None else np.asarray(selected, np.int64)
    selected_key = "" if rows is None else hashlib.sha1(rows.tobytes()).hexdigest()
    return _map_figure(*_table_key(), model_key, color_key, color_name, view,
                       explore.ids_key(ids), selected_key, color, highlight_mask(ids), rows)


# ---- model-derived values --------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=256)
def text_vector(query: str) -> np.ndarray:
    """Unit text embedding of a query (cached per query)."""
    from clef.index import text_vector as tv

    return tv(explore.check_query(query), model())


@st.cache_data(show_spinner=False, max_entries=256)
def query_reading(query: str) -> str:
    """How a query is read: expansions, negation, the finding it is linked to ("" as typed)."""
    from clef.index import describe_query

    return describe_query(explore.check_query(query), model())


@st.cache_data(show_spinner=False, max_entries=64)
def concept_scores(query: str) -> np.ndarray:
    """Cosine of every session (index row order) with a concept query."""
    return explore.concept_scores(embeddings(), text_vector(query))


@st.cache_data(show_spinner="Reading and embedding the upload…", max_entries=4)
def _upload(digest: str, name: str, _data: bytes):
    return explore.embed_upload(_data, name, model(), cohort_map())


def upload(data: bytes, name: str):
    """Embed an uploaded recording (cached by content hash); raises clef errors for bad files."""
    return _upload(hashlib.sha256(data).hexdigest(), name, data)


@st.cache_resource(show_spinner="Measuring how similar cohort sessions are to their neighbours…")
def _neighbour_reference(index_path: str, k: int) -> np.ndarray:
    return explore.neighbour_scores(_index(index_path), k=k)


def neighbour_reference(k: int = 10) -> np.ndarray:
    """Mean top-k neighbour similarity of 300 cohort sessions (out-of-distribution yardstick)."""
    return _neighbour_reference(str(bundle().index), int(k))


# ---- search (issue 17): keyword index, null distribution, report mentions, region scores ----

@st.cache_resource(show_spinner=False)
def _embeddings(store_path: str, index_path: str) -> np.ndarray:
    # a copy in memory: the store's memory map was read page by page on every query (0.4 s a
    # concept query at 100k sessions, benchmarks/results/dashboard_browser.md)
    e = np.array(explore.embeddings_in_order(_store(store_path), _index(index_path).session_ids),
                 dtype=np.float32)
    e.setflags(write=False)  # shared between reruns and browser sessions
    return e


def embeddings() -> np.ndarray:
    """Session embeddings (N, D) in index row order (in memory, read-only, shared)."""
    b = bundle()
    return _embeddings(str(b.store), str(b.index))


@st.cache_resource(show_spinner="Scoring unrelated text (the no-match yardstick)…")
def _null_stats(store_path: str, index_path: str, checkpoint: str) -> np.ndarray:
    from clef.search import null_statistics

    return null_statistics(_embeddings(store_path, index_path), text_vector)


def null_stats() -> np.ndarray:
    """Top-10 lift over the cohort median of unrelated texts (:data:`clef.search.NULL_TEXTS`), once
    per bundle (:func:`clef.search.top_lift`)."""
    b = bundle()
    return _null_stats(str(b.store), str(b.index), str(b.checkpoint))


def bundle_summary() -> dict:
    """Short facts for the sidebar."""
    b = bundle()
    idx = index()
    return {"sessions": len(idx), "model": idx.manifest.get("model_name"),
            "dim": idx.dim, "bundle": str(b.root or b.store)}

