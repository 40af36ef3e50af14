"""How a session index is built: :class:`IndexConfig`, the index kinds and their defaults."""
from __future__ import annotations

import math
from dataclasses import dataclass

INDEX_FORMAT = "clef-index"
KINDS = ("auto", "flat", "ivf", "hnsw")


@dataclass
class IndexConfig:
    """How a :class:`~clef.index.SessionIndex` is built."""

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


def check_option(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {list(allowed)}")


def resolve_kind(kind: str, n: int, config: IndexConfig) -> str:
    """``kind`` for ``n`` vectors; "auto" is exact up to ``config.flat_max``, IVF above."""
    if kind == "auto":
        return "flat" if n <= config.flat_max else "ivf"
    return kind


def default_nlist(n: int) -> int:
    """IVF lists for ``n`` vectors: sqrt(N) rounded to a power of two, at least 39 per list."""
    nlist = 2 ** round(math.log2(max(math.sqrt(n), 1.0)))
    return int(max(1, min(nlist, n // 39, 65536)))
