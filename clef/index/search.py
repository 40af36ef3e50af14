"""Search a FAISS session index: plain top-k, exact over a filtered subset, or filtered ANN.

``params`` is the index manifest's ``"index"`` dict (:mod:`clef.index.session_index`); rows
are FAISS ids, i.e. rows of the index's session table.
"""
from __future__ import annotations

from contextlib import contextmanager

import faiss
import numpy as np


@contextmanager
def omp_threads(n: int | None):
    """Run FAISS with ``n`` OpenMP threads inside the block (None or 0: leave as is)."""
    if not n:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(int(n))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def search(index, params: dict, q: np.ndarray, k: int, mask: np.ndarray | None, exclude: set):
    """(rows, scores) of the best k rows of ``index``; q is (1, D) normalised.

    Parameters
    ----------
    index : faiss.Index
    params : dict
        The manifest's index parameters (``kind``, ``nprobe``, ``ef_search``, ...).
    q : np.ndarray
        (1, D) unit query vector.
    k : int
    mask : np.ndarray or None
        Boolean (N,) filter; None searches every row.
    exclude : set of int
        Rows never returned.
    """
    n = int(index.ntotal)
    if mask is not None:
        mask = mask.copy()
        for e in exclude:
            mask[e] = False
        n_match = int(mask.sum())
        if n_match == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        limit = params.get("exact_subset_max", 50_000)
        if params["kind"] == "flat" or n_match <= limit or n_match <= 4 * k:
            return _exact_subset(index, params, q, k, mask)
        rows, scores = _ann(index, params, q, k, mask)
        if len(rows) >= min(k, n_match):
            return rows, scores
        return _exact_subset(index, params, q, k, mask)  # widened: filtered ANN came back short
    fetch = min(k + len(exclude), n)
    scores, rows = index.search(q, fetch)
    keep = (rows[0] >= 0) & ~np.isin(rows[0], list(exclude))
    return rows[0][keep][:k], scores[0][keep][:k]


def _exact_subset(index, params, q, k, mask):
    ids = np.flatnonzero(mask)
    if params["kind"] == "flat":
        bits = np.packbits(mask, bitorder="little")  # kept alive here: the selector points into it
        sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        scores, rows = index.search(q, min(k, len(ids)), params=faiss.SearchParameters(sel=sel))
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]
    vecs = index.reconstruct_batch(ids)  # (n_match, D)
    sims = vecs @ q[0]
    top = np.argsort(-sims, kind="stable")[:k]
    return ids[top], sims[top]


def _ann(index, p, q, k, mask):
    """Filtered ANN search, widened in proportion to how selective the filter is."""
    bits = np.packbits(mask, bitorder="little")  # kept alive here: the selector points into it
    sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
    widen = int(min(max(len(mask) / mask.sum(), 1.0), 16.0))
    if p["kind"] == "ivf":
        nprobe = min(int(p.get("nprobe") or 1) * widen, int(p["nlist"]))
        search_params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
    else:
        search_params = faiss.SearchParametersHNSW(sel=sel, efSearch=int(p.get("ef_search") or 64)
                                                   * widen)
    scores, rows = index.search(q, k, params=search_params)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]

