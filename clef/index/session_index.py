"""`SessionIndex`: a FAISS index over a store's session embeddings, with its session table.

Build with :meth:`SessionIndex.build` (from a store) or :meth:`SessionIndex.from_vectors`; persist
with ``save`` / ``load`` (the folder layout is in :mod:`clef.index`). The FAISS structure is made
here too (:func:`new_faiss_index`, :func:`tune_search_params`): search parameters live in the
manifest's ``"index"`` dict (``params``): ``kind``, ``nlist``, ``nprobe`` (IVF), ``hnsw_m``,
``ef_construction``, ``ef_search`` (HNSW) and what tuning reached (``tuned_recall``). Filters are
:mod:`clef.index.filters`, the search itself :mod:`clef.index.search`.
"""
from __future__ import annotations

import datetime as _dt
import math
import os
from dataclasses import asdict
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from clef import __version__
from clef.embedding import check_unit_norm, unit_normalize
from clef.errors import InvalidQuery, InvalidStore
from clef.fileio import (
    atomic_write_bytes,
    atomic_write_parquet,
    load_manifest,
    verify_files,
    write_manifest,
)
from clef.index.config import (
    INDEX_FORMAT,
    KINDS,
    IndexConfig,
    check_option,
    default_nlist,
    resolve_kind,
)
from clef.index.filters import filter_mask
from clef.index.query import text_vector
from clef.index.search import omp_threads, search
from clef.store import EmbeddingStore, check_model


class SessionIndex:
    """Nearest-neighbour search over the sessions of an embedding store.

    Build with :meth:`build` (from a store) or :meth:`from_vectors`; persist with :meth:`save` /
    :meth:`load`. Search with :meth:`by_session`, :meth:`by_vector`, :meth:`by_text`,
    :meth:`by_recording`; each accepts the metadata filters of :meth:`filter_mask` and returns a
    DataFrame (rank, session_id, score, metadata), best first.
    """

    def __init__(self, index, sessions: pd.DataFrame, manifest: dict,
                 labels: pd.DataFrame | None = None, path=None):
        self.index = index
        self.sessions = sessions.reset_index(drop=True)
        self.sessions["session_id"] = self.sessions["session_id"].astype(str)
        self.manifest = manifest
        if labels is not None:  # aligned row by row with the sessions table
            labels = labels.assign(session_id=labels["session_id"].astype(str))
            labels = (labels.set_index("session_id").reindex(self.sessions["session_id"])
                      .reset_index())
        self.labels = labels
        self.path = Path(path) if path is not None else None
        self._row = {sid: i for i, sid in enumerate(self.sessions["session_id"])}
        apply_search_params(self.index, self.manifest.get("index", {}))

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def build(cls, store: EmbeddingStore | str | Path, kind: str = "auto",
              config: IndexConfig | None = None, progress: bool = True) -> SessionIndex:
        """Build an index over every session of a store.

        Parameters
        ----------
        store : EmbeddingStore or path
        kind : {"auto", "flat", "ivf", "hnsw"}
            Overrides ``config.kind``; auto = exact up to ``config.flat_max`` sessions, IVF above.
        config : IndexConfig, optional
        progress : bool
            Progress bar while adding vectors.
        """
        if not isinstance(store, EmbeddingStore):
            store = EmbeddingStore.open(store)
        meta = {k: store.manifest.get(k) for k in
                ("model_name", "model_sha256", "tokenizer_sha256", "checkpoint",
                 "checkpoint_sha256")}
        meta["store"] = str(store.path.resolve())
        return cls.from_vectors(np.asarray(store.embeddings), store.sessions, manifest=meta,
                                labels=store.labels, kind=kind, config=config, progress=progress,
                                normalize=False)  # a store's rows are unit norm: checked, kept

    @classmethod
    def from_vectors(cls, vectors: np.ndarray, sessions: pd.DataFrame | list | None = None, *,
                     manifest: dict | None = None, labels: pd.DataFrame | None = None,
                     kind: str = "auto", config: IndexConfig | None = None,
                     progress: bool = False, normalize: bool = True) -> SessionIndex:
        """Build an index from an (N, D) array and its session table.

        ``sessions`` is a DataFrame with ``session_id`` (or a list of ids); default ids "0".."N-1".
        With ``normalize`` (default) arbitrary rows are scaled to unit norm here; pass False for
        embeddings from :mod:`clef.embedding`, whose unit norm is then checked (``NotUnitNorm``),
        not recomputed.
        """
        config = IndexConfig(**{**asdict(config or IndexConfig()), "kind": kind})
        check_option("kind", config.kind, KINDS)
        x = (unit_normalize(vectors) if normalize
             else check_unit_norm(vectors, "index vectors"))  # (N, D)
        if x.ndim != 2 or len(x) == 0:
            raise ValueError(f"vectors must be a non-empty (N, D) array, got shape {x.shape}")
        n, dim = x.shape
        if sessions is None:
            sessions = pd.DataFrame({"session_id": [str(i) for i in range(n)]})
        elif not isinstance(sessions, pd.DataFrame):
            sessions = pd.DataFrame({"session_id": [str(s) for s in sessions]})
        if len(sessions) != n:
            raise ValueError(f"{n} vectors but {len(sessions)} session rows")
        rng = np.random.default_rng(config.seed)
        index, params = new_faiss_index(x, resolve_kind(config.kind, n, config), config, rng)
        add_in_chunks(index, x, progress)
        manifest = {**(manifest or {}), "dim": int(dim), "count": int(n)}
        manifest.setdefault("model_sha256", None)
        manifest["index"] = params
        self = cls(index, sessions, manifest, labels)
        tune_search_params(index, params, x, config, rng)
        params["exact_subset_max"] = config.exact_subset_max
        params["search_threads"] = config.search_threads
        apply_search_params(index, params)
        return self

    # -- persistence --------------------------------------------------------------------------
    def save(self, path, created_by: str = "clef.index.SessionIndex.save") -> Path:
        """Write the index folder atomically (``manifest.json`` last)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "manifest.json").unlink(missing_ok=True)
        atomic_write_bytes(path / "index.faiss", faiss.serialize_index(self.index).tobytes())
        atomic_write_parquet(path / "sessions.parquet", self.sessions)
        names = ["index.faiss", "sessions.parquet"]
        if self.labels is not None:
            atomic_write_parquet(path / "labels.parquet", self.labels)
            names.append("labels.parquet")
        else:
            (path / "labels.parquet").unlink(missing_ok=True)
        manifest = {
            "format": INDEX_FORMAT,
            "clef_version": __version__,
            "created_by": created_by,
            "created_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            **{k: v for k, v in self.manifest.items() if k not in ("files", "format")},
        }
        if manifest.get("store") and Path(manifest["store"]).is_absolute():
            # relative to the index folder, so a copied or cloned bundle points at its own store
            manifest["store"] = os.path.relpath(manifest["store"], path.resolve())
        manifest = write_manifest(path, manifest, names)
        self.manifest, self.path = manifest, path
        return path

    @classmethod
    def load(cls, path, model=None, *, verify: bool = True) -> SessionIndex:
        """Load an index folder; with ``model``, refuse it unless it was built with that model.

        Raises
        ------
        clef.errors.CheckpointMismatch
            ``model``'s weights hash or dimension differs from the index manifest's.
        clef.store.InvalidStore
            Missing files or checksum mismatch (``verify=True``).
        """
        path = Path(path)
        manifest = load_manifest(path, INDEX_FORMAT, what="a session index",
                                 fix="build one with `clef index --store STORE --out DIR`.")
        if model is not None:
            check_model(manifest, model, f"index {path}",
                        f"`clef embed --checkpoint CHECKPOINT ...` then "
                        f"`clef index --store STORE --out {path}`")
        verify_files(path, manifest, checksums=verify, fix="rebuild it with `clef index`.")
        index = faiss.read_index(str(path / "index.faiss"))
        if index.d != manifest.get("dim") or index.ntotal != manifest.get("count"):
            raise InvalidStore(f"{path}: index has {index.ntotal} x {index.d}, manifest says "
                               f"{manifest.get('count')} x {manifest.get('dim')}. "
                               "Fix: rebuild with `clef index`.")
        sessions = pd.read_parquet(path / "sessions.parquet")
        labels = (pd.read_parquet(path / "labels.parquet")
                  if (path / "labels.parquet").is_file() else None)
        return cls(index, sessions, manifest, labels, path)

    # -- properties ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def dim(self) -> int:
        return int(self.index.d)

    @property
    def kind(self) -> str:
        return self.manifest["index"]["kind"]

    @property
    def session_ids(self) -> np.ndarray:
        return self.sessions["session_id"].to_numpy()

    def __repr__(self) -> str:
        p = self.manifest.get("index", {})
        extra = ", ".join(f"{k}={p[k]}" for k in ("nlist", "nprobe", "ef_search") if p.get(k))
        return (f"SessionIndex({self.kind}{', ' + extra if extra else ''}, {len(self)} sessions "
                f"x {self.dim}, model={self.manifest.get('model_name')})")

    def row_of(self, session_id: str) -> int:
        try:
            return self._row[str(session_id)]
        except KeyError:
            raise InvalidQuery(f"session {session_id!r} is not in this index ({len(self)} "
                               "sessions). Fix: pick an id from its sessions table.") from None

    def vector(self, session_id: str) -> np.ndarray:
        """The stored (D,) unit vector of a session."""
        return self.index.reconstruct(self.row_of(session_id))

    def check_model(self, model) -> None:
        """Raise ``CheckpointMismatch`` unless ``model`` made this index's embeddings."""
        check_model(self.manifest, model, f"index {self.path or '(in memory)'}",
                    "`clef embed ...` then `clef index ...` with this checkpoint")

    def filter_mask(self, *, site=None, age=None, sex=None, setting=None, diagnosis=None,
                    medication=None, task=None, session_ids=None) -> np.ndarray | None:
        """Boolean (N,) mask of sessions matching every given filter (None when no filter).

        The filters (site, age, sex, setting, diagnosis, medication, task, session_ids) are
        those of :func:`clef.index.filters.filter_mask`.
        """
        return filter_mask(self.sessions, self.labels, site=site, age=age, sex=sex,
                           setting=setting, diagnosis=diagnosis, medication=medication,
                           task=task, session_ids=session_ids)

    # -- search -------------------------------------------------------------------------------
    def by_vector(self, vector, k: int = 10, *, exclude=(), **filters) -> pd.DataFrame:
        """The k sessions most similar (cosine) to a (D,) vector; filters as in filter_mask."""
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        if v.shape[0] != self.dim:
            raise InvalidQuery(f"query vector has dimension {v.shape[0]}, the index holds "
                               f"{self.dim}. Fix: embed the query with the index's model.")
        if not np.all(np.isfinite(v)) or not np.any(v):
            raise InvalidQuery("query vector is zero or not finite. Fix: check how it was made.")
        if int(k) < 1:
            raise InvalidQuery(f"k={k}: must be at least 1.")
        mask = self.filter_mask(**filters)
        params = self.manifest["index"]
        with omp_threads(params.get("search_threads", 1)):
            # a query is any direction (a centroid, a steered vector): scaled here, once
            rows, scores = search(self.index, params, unit_normalize(v[None, :]), int(k), mask,
                                  {self._row[str(e)] for e in exclude if str(e) in self._row})
        return self._frame(rows, scores)

    def by_session(self, session_id: str, k: int = 10, *, exclude_self: bool = True,
                   **filters) -> pd.DataFrame:
        """The k sessions most similar to a stored session (itself excluded by default)."""
        v = self.vector(session_id)
        return self.by_vector(v, k, exclude=(session_id,) if exclude_self else (), **filters)

    def by_text(self, text: str, model, k: int = 10, **filters) -> pd.DataFrame:
        """Free-text concept search through the model's text tower."""
        v = text_vector(text, model, index=self)
        return self.by_vector(v, k, **filters)

    def by_recording(self, path, model, k: int = 10, **filters) -> pd.DataFrame:
        """Sessions most similar to a recording file, embedded on the fly."""
        from clef.embedding import embed_recording

        self.check_model(model)
        return self.by_vector(embed_recording(model, path), k, **filters)

    def _frame(self, rows: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        meta = self.sessions.iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)
        out = pd.DataFrame({"rank": np.arange(1, len(rows) + 1),
                            "session_id": meta["session_id"].to_numpy(),
                            "score": np.asarray(scores, dtype=np.float32)})
        return pd.concat([out, meta.drop(columns=["session_id"])], axis=1)


# -- the FAISS structure ------------------------------------------------------------------------

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
