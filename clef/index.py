"""`SessionIndex`: cosine nearest-neighbour search over session embeddings (FAISS).

Vectors have unit L2 norm (the invariant of :mod:`clef.embedding`, checked when an index is built
from a store), so the inner product is the cosine similarity. Up to
``IndexConfig.flat_max`` sessions the index is exact (``IndexFlatIP``); above it an inverted-file
index (``IndexIVFFlat``) whose ``nprobe`` is tuned at build time to reach the target recall@10 on a
sample of stored sessions. HNSW is available on request. FAISS ids are row numbers of the session
table, so every hit maps back to a ``session_id`` and its metadata.

An index folder holds ``index.faiss`` (FAISS's own binary format, not pickle), ``sessions.parquet``
(metadata, row = FAISS id), optional ``labels.parquet`` and ``manifest.json`` (model hash and name,
tokenizer hash, dimension, count, index parameters and file checksums).
"""
from __future__ import annotations

import datetime as _dt
import math
import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
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
from clef.store import EmbeddingStore, check_model

INDEX_FORMAT = "clef-index"
KINDS = ("auto", "flat", "ivf", "hnsw")


@dataclass
class IndexConfig:
    """How a :class:`SessionIndex` is built."""

    kind: str = "auto"  # "auto" | "flat" | "ivf" | "hnsw"; auto = flat up to flat_max, else ivf
    flat_max: int = 200_000  # exact search stays under ~10 ms per query up to about this size
    nlist: int | None = None  # IVF lists; None = sqrt(N) rounded to a power of two (>= 39 pts/list)
    nprobe: int | None = None  # IVF lists scanned per query; None = tuned to target_recall
    hnsw_m: int = 32  # HNSW links per node (memory ~ N * M * 8 bytes on top of the vectors)
    ef_construction: int = 128  # HNSW build beam width: higher = better graph, slower build
    ef_search: int | None = None  # HNSW search beam; None = tuned to target_recall
    target_recall: float = 0.95  # recall@10 vs exact search that tuning must reach...
    tune_margin: float = 0.02  # ...plus this margin, so unseen queries still reach the target
    tune_queries: int = 400  # stored sessions used as tuning queries (their self-match excluded)
    train_per_list: int = 64  # IVF k-means training points per list (FAISS warns below 39)
    exact_subset_max: int = 50_000  # filtered searches over at most this many sessions are exact
    search_threads: int = 1  # OpenMP threads per single query: waking more costs more than it
    #                          saves below ~1M vectors, and is ruinous on a loaded machine
    seed: int = 0


def _check_option(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {list(allowed)}")


def _default_nlist(n: int) -> int:
    nlist = 2 ** round(math.log2(max(math.sqrt(n), 1.0)))
    return int(max(1, min(nlist, n // 39, 65536)))


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
        self._apply_search_params()

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
        _check_option("kind", config.kind, KINDS)
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
        resolved = config.kind
        if resolved == "auto":
            resolved = "flat" if n <= config.flat_max else "ivf"
        params: dict = {"kind": resolved}
        rng = np.random.default_rng(config.seed)
        if resolved == "flat":
            index = faiss.IndexFlatIP(dim)
        elif resolved == "ivf":
            nlist = config.nlist or _default_nlist(n)
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
        _add_in_chunks(index, x, progress)
        manifest = {**(manifest or {}), "dim": int(dim), "count": int(n)}
        manifest.setdefault("model_sha256", None)
        manifest["index"] = params
        self = cls(index, sessions, manifest, labels)
        if resolved == "ivf":
            params["nprobe"], params["tuned_recall"] = (
                (config.nprobe, None) if config.nprobe else self._tune(
                    x, "nprobe", [2 ** i for i in range(int(math.log2(params["nlist"])) + 1)],
                    config, rng))
        elif resolved == "hnsw":
            params["ef_search"], params["tuned_recall"] = (
                (config.ef_search, None) if config.ef_search else self._tune(
                    x, "ef_search", [16, 32, 64, 128, 256, 512, 1024, 2048], config, rng))
        params["exact_subset_max"] = config.exact_subset_max
        params["search_threads"] = config.search_threads
        self._apply_search_params()
        return self

    def _tune(self, x, name, candidates, config, rng, k: int = 10):
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
            self.manifest["index"][name] = value
            self._apply_search_params()
            _, approx = self.index.search(q, min(k + 1, n))
            recall = _recall(_drop_self(approx, q_ids, k), exact)
            if recall >= goal:
                return value, recall
        return candidates[-1], recall

    def _apply_search_params(self) -> None:
        params = self.manifest.get("index", {})
        if params.get("kind") == "ivf":
            ivf = faiss.extract_index_ivf(self.index)
            if params.get("nprobe"):
                ivf.nprobe = int(params["nprobe"])
            ivf.make_direct_map()  # reconstruct(id) for by_session and exact filtered search
        elif params.get("kind") == "hnsw" and params.get("ef_search"):
            self.index.hnsw.efSearch = int(params["ef_search"])

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

    # -- filters ------------------------------------------------------------------------------
    def filter_mask(self, *, site=None, age=None, sex=None, setting=None, diagnosis=None,
                    medication=None, task=None, session_ids=None) -> np.ndarray | None:
        """Boolean (N,) mask of sessions matching every given filter (None when no filter).

        Parameters
        ----------
        site, sex, setting : str or list of str, optional
            Exact match (any of the list).
        age : (min, max), optional
            Inclusive range in years; either bound may be None. Unknown ages never match.
        diagnosis : str or list of str, optional
            ICD-10 code or prefix ("G40" matches "G40.909"); a session matches if any of its
            diagnoses starts with any of them.
        medication : str or list of str, optional
            Generic name(s), case-insensitive; a session matches if it takes any of them.
        task : str, list of str or dict {task: label}, optional
            Task label(s): a name means label == 1; a dict gives the wanted label per task.
        session_ids : iterable of str, optional
            Restrict to these sessions.
        """
        s = self.sessions
        mask = np.ones(len(s), dtype=bool)
        used = False

        def col(name):
            if name not in s.columns:
                raise InvalidQuery(f"filter on {name!r}, but this index has no {name!r} column "
                                   f"(columns: {list(s.columns)}). Fix: drop that filter.")
            return s[name]

        for name, value in (("site", site), ("sex", sex), ("setting", setting)):
            if value is not None:
                values = [value] if isinstance(value, str) else list(value)
                mask &= col(name).astype(str).isin([str(v) for v in values]).to_numpy()
                used = True
        if age is not None:
            lo, hi = age
            a = pd.to_numeric(col("age"), errors="coerce").to_numpy(dtype=float)
            ok = ~np.isnan(a)
            if lo is not None:
                ok &= a >= lo
            if hi is not None:
                ok &= a <= hi
            mask &= ok
            used = True
        if diagnosis is not None:
            prefixes = tuple(str(p).upper() for p in ([diagnosis] if isinstance(diagnosis, str)
                                                      else diagnosis))
            if not prefixes or not all(prefixes):
                raise InvalidQuery("diagnosis filter is empty. Fix: give a code such as 'G40'.")
            mask &= np.array([any(str(c).upper().startswith(prefixes) for c in _as_list(v))
                              for v in col("diagnoses")], dtype=bool)
            used = True
        if medication is not None:
            meds = {str(m).lower() for m in ([medication] if isinstance(medication, str)
                                             else medication)}
            mask &= np.array([bool(meds & {str(c).lower() for c in _as_list(v)})
                              for v in col("medications")], dtype=bool)
            used = True
        if task is not None:
            wanted = ({task: 1} if isinstance(task, str) else
                      dict(task) if isinstance(task, dict) else {t: 1 for t in task})
            if self.labels is None:
                raise InvalidQuery("task filter given, but this index has no task labels. "
                                   "Fix: embed a cohort with a tasks table, or drop the filter.")
            for name, label in wanted.items():
                if name not in self.labels.columns:
                    known = [c for c in self.labels.columns if c != "session_id"]
                    raise InvalidQuery(f"unknown task {name!r}. Fix: pick one of {known[:20]}")
                mask &= (self.labels[name] == label).fillna(False).to_numpy(dtype=bool)
            used = True
        if session_ids is not None:
            mask &= s["session_id"].isin([str(i) for i in session_ids]).to_numpy()
            used = True
        return mask if used else None

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
        with omp_threads(self.manifest["index"].get("search_threads", 1)):
            # a query is any direction (a centroid, a steered vector): scaled here, once
            rows, scores = self._search(unit_normalize(v[None, :]), int(k), mask,
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

    def _search(self, q: np.ndarray, k: int, mask: np.ndarray | None, exclude: set):
        """(rows, scores) of the best k rows; q is (1, D) normalised."""
        n = len(self)
        if mask is not None:
            mask = mask.copy()
            for e in exclude:
                mask[e] = False
            exclude = set()
            n_match = int(mask.sum())
            if n_match == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            limit = self.manifest["index"].get("exact_subset_max", 50_000)
            if self.kind == "flat" or n_match <= limit or n_match <= 4 * k:
                return self._exact_subset(q, k, mask)
            rows, scores = self._ann(q, k, mask)
            if len(rows) >= min(k, n_match):
                return rows, scores
            return self._exact_subset(q, k, mask)  # widened: filtered ANN came back short
        fetch = min(k + len(exclude), n)
        scores, rows = self.index.search(q, fetch)
        keep = (rows[0] >= 0) & ~np.isin(rows[0], list(exclude))
        return rows[0][keep][:k], scores[0][keep][:k]

    def _exact_subset(self, q, k, mask):
        ids = np.flatnonzero(mask)
        if self.kind == "flat":
            bits = np.packbits(mask, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            scores, rows = self.index.search(q, min(k, len(ids)),
                                             params=faiss.SearchParameters(sel=sel))
            keep = rows[0] >= 0
            return rows[0][keep], scores[0][keep]
        vecs = self.index.reconstruct_batch(ids)  # (n_match, D)
        sims = vecs @ q[0]
        top = np.argsort(-sims, kind="stable")[:k]
        return ids[top], sims[top]

    def _ann(self, q, k, mask):
        """Filtered ANN search, widened in proportion to how selective the filter is."""
        bits = np.packbits(mask, bitorder="little")
        sel = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
        widen = int(min(max(len(mask) / mask.sum(), 1.0), 16.0))
        p = self.manifest["index"]
        if self.kind == "ivf":
            nprobe = min(int(p.get("nprobe") or 1) * widen, int(p["nlist"]))
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        else:
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=int(p.get("ef_search") or 64)
                                                * widen)
        scores, rows = self.index.search(q, k, params=params)
        keep = rows[0] >= 0
        return rows[0][keep], scores[0][keep]

    def _frame(self, rows: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
        meta = self.sessions.iloc[np.asarray(rows, dtype=np.int64)].reset_index(drop=True)
        out = pd.DataFrame({"rank": np.arange(1, len(rows) + 1),
                            "session_id": meta["session_id"].to_numpy(),
                            "score": np.asarray(scores, dtype=np.float32)})
        return pd.concat([out, meta.drop(columns=["session_id"])], axis=1)


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


def _add_in_chunks(index, x: np.ndarray, progress: bool, chunk: int = 65536) -> None:
    from tqdm.auto import tqdm

    quiet = not progress or len(x) <= chunk
    with tqdm(total=len(x), desc="index", unit="vec", disable=quiet) as bar:
        for start in range(0, len(x), chunk):
            index.add(x[start:start + chunk])
            bar.update(min(chunk, len(x) - start))


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    try:
        if pd.isna(value):
            return []
    except (TypeError, ValueError):
        pass
    return list(value)


def text_vector(text: str, model, index: SessionIndex | None = None) -> np.ndarray:
    """The (D,) unit search vector of a free-text query (:func:`clef.text.queries.query_vector`:
    abbreviations expanded, prompt ensemble, "no X" points away from X); ``InvalidQuery`` for
    empty or unreadable text.

    With ``index``, the model must be the one the index was built with.
    """
    from clef.text.queries import query_vector

    if not isinstance(text, str) or not text.strip():
        raise InvalidQuery("the text query is empty. Fix: type a concept such as "
                           "'left temporal sharp waves'.")
    if index is not None:
        index.check_model(model)

    def encode(texts):
        v = model.encode_text(list(texts), normalize=True, preprocess=False)  # (n, D)
        return v.detach().float().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)

    v = query_vector(text, encode)
    return check_unit_norm(v.reshape(1, -1), "text vector")[0]


def steer(vector, concept, weight: float, model=None) -> np.ndarray:
    """"Like this one, but with (weight > 0) / without (weight < 0) <concept>".

    Parameters
    ----------
    vector : array (D,)
        A session embedding.
    concept : str or array (D,)
        Concept text (embedded with ``model.encode_text``) or a concept vector.
    weight : float
        How far to move along the concept direction (cosine units; 0.3-1 is typical).
    model : CLEFModel, optional
        Needed when ``concept`` is text.

    Returns
    -------
    np.ndarray
        (D,) unit vector ``normalize(v + weight * c)`` with v and c normalised.
    """
    v = unit_normalize(np.asarray(vector, dtype=np.float32).reshape(1, -1))[0]
    if isinstance(concept, str):
        if model is None:
            raise InvalidQuery("steering by concept text needs the model. Fix: pass model=.")
        c = text_vector(concept, model)  # unit norm already
    else:
        c = unit_normalize(np.asarray(concept, dtype=np.float32).reshape(1, -1))[0]
    if c.shape != v.shape:
        raise InvalidQuery(f"concept vector has dimension {c.shape[0]}, session vector "
                           f"{v.shape[0]}. Fix: use the same model for both.")
    out = v + float(weight) * c
    if not np.any(out):
        raise InvalidQuery("steering cancelled the vector out (weight too large). Fix: use a "
                           "smaller |weight|.")
    return unit_normalize(out[None, :])[0]
