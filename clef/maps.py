"""`CohortMap`: a 2-D UMAP of a store's session embeddings, fitted once and stored.

The neighbour graph is computed with FAISS (exact up to ``MapConfig.exact_knn_max`` sessions,
a recall-tuned IVF index above) and handed to umap-learn as ``precomputed_knn``; this is what keeps
a 100k-session fit within minutes on a laptop (umap's own NN-descent is several times slower).
Above ``MapConfig.fit_max`` sessions UMAP is fitted on a random subsample and the rest are placed
like new sessions.

New sessions are placed WITHOUT refitting and without unpickling anything: the
inverse-distance-weighted mean of the coordinates of their k nearest "anchor" sessions (cosine),
whose vectors are stored with the map as float16 ``anchors.npy``.

Folder layout: ``map.parquet`` (session_id, x, y, anchor; fit parameters in the schema metadata),
``anchors.npy`` (n_anchors, D) float16 in the order of the ``anchor`` rows, ``map.json``
(parameters, model hash, checksums).
"""
from __future__ import annotations

import datetime as _dt
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from clef import __version__
from clef.embedding import check_unit_norm, unit_normalize
from clef.errors import InvalidStore
from clef.fileio import (
    atomic_save_npy,
    atomic_write_parquet,
    load_manifest,
    verify_files,
    write_manifest,
)
from clef.store import EmbeddingStore

MAP_FORMAT = "clef-map"


@dataclass
class MapConfig:
    """How a :class:`CohortMap` is fitted."""

    n_neighbors: int = 15  # UMAP neighbourhood size: larger = more global structure
    min_dist: float = 0.1  # UMAP minimum spacing of points in the map
    seed: int | None = 0  # reproducible layout; None lets numba run the optimisation in parallel
    n_epochs: int | None = 200  # umap's own default is 500 below 10k points (2.5x slower, same
    #                             picture) and 200 above; None = umap's default
    exact_knn_max: int = 50_000  # exact FAISS kNN graph up to here, recall-tuned IVF above
    fit_max: int = 200_000  # fit on a random subsample of this many; place the rest via transform
    anchors_max: int = 50_000  # sessions kept (float16) for placing new ones: <= 25 MB at D=256
    transform_k: int = 10  # neighbours averaged when placing a new session


class CohortMap:
    """2-D coordinates of a cohort's sessions and a pickle-free way to place new ones.

    Attributes
    ----------
    coords : pd.DataFrame
        session_id, x, y, anchor (bool: its vector is kept for :meth:`transform`).
    params : dict
        Fit parameters, timings, model hash, dimension.
    """

    def __init__(self, coords: pd.DataFrame, anchors: np.ndarray, params: dict, path=None):
        self.coords = coords.reset_index(drop=True)
        # float16 storage moves anchor norms off 1 by up to ~1e-3: rescaled here (not embeddings)
        self.anchors = unit_normalize(anchors)  # (n_anchors, D)
        self.params = params
        self.path = Path(path) if path is not None else None
        self._anchor_xy = self.coords.loc[self.coords["anchor"], ["x", "y"]].to_numpy(np.float32)
        if len(self._anchor_xy) != len(self.anchors):
            raise InvalidStore(f"map {path}: {len(self.anchors)} anchor vectors but "
                               f"{len(self._anchor_xy)} anchor rows. Fix: refit the map.")
        self._index = faiss.IndexFlatIP(self.anchors.shape[1])
        self._index.add(self.anchors)

    def __len__(self) -> int:
        return len(self.coords)

    def __repr__(self) -> str:
        p = self.params
        return (f"CohortMap({len(self)} sessions, {len(self.anchors)} anchors, "
                f"n_neighbors={p.get('n_neighbors')}, min_dist={p.get('min_dist')})")

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) float32 coordinates in session order."""
        return self.coords[["x", "y"]].to_numpy(np.float32)

    # -- fitting ------------------------------------------------------------------------------
    @classmethod
    def fit(cls, store, session_ids=None, *, n_neighbors: int | None = None,
            min_dist: float | None = None, seed: int | None | str = "config",
            config: MapConfig | None = None, progress: bool = True) -> CohortMap:
        """Fit UMAP (cosine) on every session of a store (or an (N, D) array).

        Parameters
        ----------
        store : EmbeddingStore, path or np.ndarray
            The embeddings; with an array, ``session_ids`` names its rows (default "0".."N-1").
        n_neighbors, min_dist, seed : optional
            Override the matching ``config`` fields.
        config : MapConfig, optional
        progress : bool
            Progress messages from UMAP.
        """
        import umap

        cfg = asdict(config or MapConfig())
        if n_neighbors is not None:
            cfg["n_neighbors"] = int(n_neighbors)
        if min_dist is not None:
            cfg["min_dist"] = float(min_dist)
        if seed != "config":
            cfg["seed"] = seed
        cfg = MapConfig(**cfg)
        extra = {}
        is_store = isinstance(store, str | Path | EmbeddingStore)
        if isinstance(store, str | Path):
            store = EmbeddingStore.open(store)
        if isinstance(store, EmbeddingStore):
            session_ids = store.session_ids
            extra = {k: store.manifest.get(k) for k in ("model_name", "model_sha256",
                                                        "tokenizer_sha256")}
            extra["store"] = str(store.path.resolve())
            store = np.asarray(store.embeddings)
        # a store's rows are unit norm (checked, kept); arbitrary arrays are scaled here
        x = (check_unit_norm(store, "map embeddings") if is_store
             else unit_normalize(store))  # (N, D)
        n = len(x)
        if n < 4:
            raise ValueError(f"a map needs at least 4 sessions, got {n}")
        ids = (np.array([str(i) for i in range(n)]) if session_ids is None
               else np.asarray([str(s) for s in session_ids]))
        rng = np.random.default_rng(0 if cfg.seed is None else cfg.seed)
        fit_rows = (np.arange(n) if n <= cfg.fit_max
                    else np.sort(rng.choice(n, cfg.fit_max, replace=False)))
        xf = x[fit_rows]  # (n_fit, D)
        k = int(min(cfg.n_neighbors, len(xf) - 1))

        t0 = time.perf_counter()
        knn_i, knn_s = _knn_graph(xf, k, cfg, progress)  # (n_fit, k) incl. self
        t_knn = time.perf_counter() - t0
        knn_d = np.clip(1.0 - knn_s, 0.0, 2.0).astype(np.float32)  # cosine distance
        reducer = umap.UMAP(n_neighbors=k, min_dist=cfg.min_dist, metric="cosine",
                            random_state=cfg.seed, n_epochs=cfg.n_epochs, low_memory=True,
                            precomputed_knn=(knn_i, knn_d, None), verbose=progress)
        with warnings.catch_warnings():  # "n_jobs overridden by random_state" etc.
            warnings.simplefilter("ignore", UserWarning)
            yf = reducer.fit_transform(xf).astype(np.float32)  # (n_fit, 2)
        t_fit = time.perf_counter() - t0

        xy = np.zeros((n, 2), np.float32)
        xy[fit_rows] = yf
        anchor_rows = (fit_rows if len(fit_rows) <= cfg.anchors_max
                       else np.sort(rng.choice(fit_rows, cfg.anchors_max, replace=False)))
        anchor = np.zeros(n, bool)
        anchor[anchor_rows] = True
        params = {**asdict(cfg), "n_neighbors": k, "metric": "cosine", "count": int(n),
                  "dim": int(x.shape[1]), "n_fit": len(fit_rows),
                  "knn_seconds": round(t_knn, 3), "fit_seconds": round(t_fit, 3),
                  "umap_version": umap.__version__, **extra}
        coords = pd.DataFrame({"session_id": ids, "x": xy[:, 0], "y": xy[:, 1],
                               "anchor": anchor})
        # float16 round trip now, so fit-time placement equals placement after save/load
        anchors = x[anchor_rows].astype(np.float16).astype(np.float32)
        self = cls(coords, anchors, params)
        if len(fit_rows) < n:
            rest = np.setdiff1d(np.arange(n), fit_rows)
            xy[rest] = self.transform(x[rest])
            self.coords[["x", "y"]] = xy
        return self

    # -- placing new sessions -----------------------------------------------------------------
    def transform(self, vectors, k: int | None = None) -> np.ndarray:
        """Place sessions on the map without refitting.

        Parameters
        ----------
        vectors : array (n, D) or (D,)
            Session embeddings from the map's model.
        k : int, optional
            Neighbours averaged (default ``params["transform_k"]``).

        Returns
        -------
        np.ndarray
            (n, 2) float32: inverse-(cosine-)distance-weighted mean of the k nearest anchors'
            coordinates; a vector equal to an anchor lands on it.
        """
        v = np.asarray(vectors, dtype=np.float32)
        single = v.ndim == 1
        v = unit_normalize(v.reshape(-1, v.shape[-1]))  # (n, D); any direction is placed
        if v.shape[1] != self.anchors.shape[1]:
            raise ValueError(f"vectors have dimension {v.shape[1]}, the map was fitted on "
                             f"{self.anchors.shape[1]}. Fix: embed with the map's model.")
        k = int(min(k or self.params.get("transform_k", 10), len(self.anchors)))
        sims, rows = self._index.search(v, k)  # (n, k)
        dist = np.clip(1.0 - sims, 0.0, None)
        w = 1.0 / np.maximum(dist, 1e-6)  # (n, k)
        w /= w.sum(axis=1, keepdims=True)
        out = np.einsum("nk,nkc->nc", w, self._anchor_xy[rows]).astype(np.float32)  # (n, 2)
        return out[0] if single else out

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, created_by: str = "clef.maps.CohortMap.save") -> Path:
        """Write ``map.parquet``, ``anchors.npy`` and ``map.json`` atomically (json last)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "map.json").unlink(missing_ok=True)
        atomic_write_parquet(path / "map.parquet", self.coords, metadata=self.params)
        atomic_save_npy(path / "anchors.npy", self.anchors.astype(np.float16))
        manifest = {"format": MAP_FORMAT, "clef_version": __version__, "created_by": created_by,
                    "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                    "params": self.params}
        write_manifest(path, manifest, ("map.parquet", "anchors.npy"), name="map.json")
        self.path = path
        return path

    @classmethod
    def load(cls, path, *, verify: bool = True) -> CohortMap:
        """Load a map folder written by :meth:`save` (no pickle involved)."""
        path = Path(path)
        manifest = load_manifest(path, MAP_FORMAT, name="map.json", what="a cohort map",
                                 fix="fit one with "
                                     "`clef map --index INDEX` (it goes to INDEX/map).")
        verify_files(path, manifest, checksums=verify, fix="refit the map.")
        coords = pd.read_parquet(path / "map.parquet")
        anchors = np.load(path / "anchors.npy", allow_pickle=False)
        return cls(coords, anchors, manifest["params"], path)


def fit_index_map(index, store=None, *, config: MapConfig | None = None,
                  created_by: str = "clef.maps.fit_index_map", progress: bool = False) -> CohortMap:
    """Fit the cohort map of an index's sessions and save it where maps live, ``INDEX/map``.

    The location is :func:`clef.bundle.map_dir` (the one rule ``clef index``, ``clef map``,
    ``clef dashboard`` and :class:`clef.bundle.Bundle` share).

    Parameters
    ----------
    index : path
        Index folder written by ``clef index`` / ``SessionIndex.save``.
    store : EmbeddingStore or path, optional
        The embeddings the index was built from; default: the store its manifest records.
    config : MapConfig, optional
    created_by : str
        Recorded in ``map.json``.
    progress : bool
        Progress messages from UMAP.

    Returns
    -------
    CohortMap
        Saved in ``INDEX/map`` (``.path``).

    Raises
    ------
    InvalidStore
        No index at ``index``, no store found, or a store made by another model or holding other
        sessions than the index.
    """
    from clef.bundle import map_dir

    index = Path(index)
    mpath = index / "manifest.json"
    if not mpath.is_file():
        raise InvalidStore(f"{index}: not a session index (no manifest.json). Fix: build one with "
                           "`clef index --store STORE --out INDEX`.")
    manifest = json.loads(mpath.read_text())
    if store is None:
        recorded = manifest.get("store")
        if not recorded or not (index / recorded).is_dir():  # relative to the index folder
            raise InvalidStore(f"{index}: its manifest names no existing store ({recorded!r}). "
                               "Fix: pass --store STORE.")
        store = index / recorded
    if not isinstance(store, EmbeddingStore):
        store = EmbeddingStore.open(store, verify=True)
    want, got = manifest.get("model_sha256"), store.manifest.get("model_sha256")
    if (want and got and want != got) or manifest.get("count") not in (None, len(store)):
        raise InvalidStore(f"{store.path} does not hold the sessions of the index {index} (model "
                           f"{str(got)[:12]} vs {str(want)[:12]}, {len(store)} vs "
                           f"{manifest.get('count')} sessions). Fix: pass the store the index was "
                           "built from.")
    cmap = CohortMap.fit(store, config=config, progress=progress)
    cmap.save(map_dir(index), created_by=created_by)
    return cmap


def _knn_graph(x: np.ndarray, k: int, cfg: MapConfig, progress: bool):
    """(indices, similarities), each (N, k), of every row's k nearest rows (itself first)."""
    n = len(x)
    if n <= cfg.exact_knn_max:
        sims, idx = faiss.knn(x, x, k, metric=faiss.METRIC_INNER_PRODUCT)
    else:
        from clef.index import IndexConfig, SessionIndex

        index = SessionIndex.from_vectors(x, kind="ivf", config=IndexConfig(
            target_recall=0.95, seed=0 if cfg.seed is None else cfg.seed), progress=progress,
            normalize=False)  # x is unit norm already
        sims = np.empty((n, k), np.float32)
        idx = np.empty((n, k), np.int64)
        for s in range(0, n, 16384):
            sims[s:s + 16384], idx[s:s + 16384] = index.index.search(x[s:s + 16384], k)
    # every row must list itself first; IVF can miss it or order ties differently
    own = np.arange(n)
    bad = idx[:, 0] != own
    if bad.any():
        for i in np.flatnonzero(bad):
            row = [j for j in idx[i] if j != i and j >= 0][: k - 1]
            srow = [s for j, s in zip(idx[i], sims[i]) if j != i and j >= 0][: k - 1]
            row += [row[-1] if row else i] * (k - 1 - len(row))
            srow += [srow[-1] if srow else 1.0] * (k - 1 - len(srow))
            idx[i] = [i] + row
            sims[i] = [1.0] + srow
    return idx.astype(np.int64), sims.astype(np.float32)
