"""The FAISS structure of a session index: create and train it, add vectors, tune its search.

Search parameters live in the index manifest's ``"index"`` dict (``params`` here): ``kind``,
``nlist``, ``nprobe`` (IVF), ``hnsw_m``, ``ef_construction``, ``ef_search`` (HNSW) and what tuning
reached (``tuned_recall``). :func:`apply_search_params` sets them on a FAISS index.
"""
from __future__ import annotations

import math

import faiss
import numpy as np

from clef.index.config import IndexConfig, default_nlist


def new_faiss_index(x: np.ndarray, kind: str, config: IndexConfig, rng) -> tuple[object, dict]:
    """An empty (trained, for IVF) FAISS inner-product index for the (N, D) rows ``x``.

    Parameters
    ----------
    x : np.ndarray
        (N, D) unit vectors; IVF trains its lists on a sample of them.
    kind : {"flat", "ivf", "hnsw"}
        Resolved index kind.
    config : IndexConfig
    rng : np.random.Generator
        Draws the IVF training sample.

    Returns
    -------
    (faiss.Index, dict)
        The index and its parameters (``kind`` and the build parameters of that kind).
    """
    n, dim = x.shape
    params: dict = {"kind": kind}
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
        nlist = config.nlist or default_nlist(n)
        nlist = max(1, min(nlist, n))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = config.seed
        n_train = min(n, max(nlist * config.train_per_list, 1000))
        train = x[np.sort(rng.choice(n, n_train, replace=False))] if n_train < n else x
        index.train(train)
        params.update(nlist=nlist, n_train=int(n_train))
    else:  # hnsw
        index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config.ef_construction
        params.update(hnsw_m=config.hnsw_m, ef_construction=config.ef_construction)
    return index, params


def add_in_chunks(index, x: np.ndarray, progress: bool, chunk: int = 65536) -> None:
    """Add the rows of ``x`` to ``index`` in chunks, with a progress bar for large ones."""
    from tqdm.auto import tqdm

    quiet = not progress or len(x) <= chunk
    with tqdm(total=len(x), desc="index", unit="vec", disable=quiet) as bar:
        for start in range(0, len(x), chunk):
            index.add(x[start:start + chunk])
            bar.update(min(chunk, len(x) - start))


def apply_search_params(index, params: dict) -> None:
    """Set the search parameters of ``params`` (``nprobe``, ``ef_search``) on a FAISS index."""
    if params.get("kind") == "ivf":
        ivf = faiss.extract_index_ivf(index)
        if params.get("nprobe"):
            ivf.nprobe = int(params["nprobe"])
        ivf.make_direct_map()  # reconstruct(id) for by_session and exact filtered search
    elif params.get("kind") == "hnsw" and params.get("ef_search"):
        index.hnsw.efSearch = int(params["ef_search"])


def tune_search_params(index, params: dict, x: np.ndarray, config: IndexConfig, rng) -> None:
    """Fix ``nprobe`` (IVF) or ``ef_search`` (HNSW) in ``params``: the configured value, or the
    smallest that reaches ``config.target_recall`` (+ margin); records ``tuned_recall``."""
    if params["kind"] == "ivf":
        params["nprobe"], params["tuned_recall"] = (
            (config.nprobe, None) if config.nprobe else _tune(
                index, params, x, "nprobe",
                [2 ** i for i in range(int(math.log2(params["nlist"])) + 1)], config, rng))
    elif params["kind"] == "hnsw":
        params["ef_search"], params["tuned_recall"] = (
            (config.ef_search, None) if config.ef_search else _tune(
                index, params, x, "ef_search", [16, 32, 64, 128, 256, 512, 1024, 2048], config,
                rng))


def _tune(index, params, x, name, candidates, config, rng, k: int = 10):
    """Smallest search parameter whose recall@k on stored-session queries meets the target."""
    n = len(x)
    m = min(config.tune_queries, n)
    q_ids = np.sort(rng.choice(n, m, replace=False))
    q = x[q_ids]
    _, exact = faiss.knn(q, x, min(k + 1, n), metric=faiss.METRIC_INNER_PRODUCT)
    exact = _drop_self(exact, q_ids, k)
    goal = min(config.target_recall + config.tune_margin, 1.0)
    recall = 0.0
    for value in candidates:
        params[name] = value
        apply_search_params(index, params)
        _, approx = index.search(q, min(k + 1, n))
        recall = _recall(_drop_self(approx, q_ids, k), exact)
        if recall >= goal:
            return value, recall
    return candidates[-1], recall


def _recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Mean fraction of each exact row found in the matching approx row."""
    hits = [len(set(a[a >= 0]) & set(e[e >= 0])) / max((e >= 0).sum(), 1)
            for a, e in zip(approx, exact)]
    return float(np.mean(hits)) if hits else 1.0


def _drop_self(labels: np.ndarray, self_ids: np.ndarray, k: int) -> np.ndarray:
    """Remove each query's own id from its result row; keep the first k."""
    out = np.full((len(labels), k), -1, dtype=np.int64)
    for i, (row, own) in enumerate(zip(labels, self_ids)):
        row = row[row != own][:k]
        out[i, :len(row)] = row
    return out
