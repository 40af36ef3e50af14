"""Session index: cosine nearest-neighbour search over session embeddings (FAISS).

Vectors have unit L2 norm (the invariant of :mod:`clef.embedding`, checked when an index is built
from a store), so the inner product is the cosine similarity. Up to
``IndexConfig.flat_max`` sessions the index is exact (``IndexFlatIP``); above it an inverted-file
index (``IndexIVFFlat``) whose ``nprobe`` is tuned at build time to reach the target recall@10 on a
sample of stored sessions. HNSW is available on request. FAISS ids are row numbers of the session
table, so every hit maps back to a ``session_id`` and its metadata.

An index folder holds ``index.faiss`` (FAISS's own binary format, not pickle), ``sessions.parquet``
(metadata, row = FAISS id), optional ``labels.parquet`` and ``manifest.json`` (model hash and name,
tokenizer hash, dimension, count, index parameters and file checksums).

One module per purpose; import from ``clef.index``:

- :mod:`clef.index.config`: :class:`IndexConfig`, the index kinds and their defaults;
- :mod:`clef.index.filters`: metadata filters as a boolean mask;
- :mod:`clef.index.search`: exact, filtered and approximate search over a FAISS index;
- :mod:`clef.index.session_index`: :class:`SessionIndex` (build the FAISS structure: train, add,
  tune ``nprobe``/``efSearch``; save, load, search by ...);
- :mod:`clef.index.query`: query vectors: :func:`text_vector` (linked by :func:`concept_linker`;
  :func:`describe_query` says how a query was read), :func:`steer`.
"""
from clef.index.config import INDEX_FORMAT, KINDS, IndexConfig
from clef.index.query import concept_linker, describe_query, steer, text_vector
from clef.index.search import omp_threads
from clef.index.session_index import SessionIndex

__all__ = ["INDEX_FORMAT", "KINDS", "IndexConfig", "SessionIndex", "concept_linker",
           "describe_query", "omp_threads", "steer", "text_vector"]
