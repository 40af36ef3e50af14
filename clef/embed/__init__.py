"""Batch embedding of a cohort into an :class:`clef.store.EmbeddingStore` (``clef embed``).

Work is cut into shards of ``EmbedConfig.shard_size`` sessions. Each shard runs in a worker
process forked from this one (``scheduler="processes"``, the default on Linux: the loaded model
is inherited), on a Dask worker (``dask.distributed``: a LocalCluster, any cluster by scheduler
address) or in this process (``scheduler="none"``); a worker loads the model once (a per-process
cache keyed by checkpoint path and device) and reads, tokenizes and encodes its sessions. The driver commits every finished shard
to ``OUT/parts/`` as ``part-XXXXX.npy`` (+ ``.states.npy``) then ``part-XXXXX.parquet``, each
written atomically; the parquet file is the commit mark. A run killed at any point and started
again skips every committed session, and when all are done the shards are consolidated into the
store (manifest last) and ``parts/`` is removed. Recordings that fail are kept, with their error,
in the failures table; nothing else is lost.

In this process, reading and tokenizing (numpy, scipy and torch: they release the GIL) run on a
few threads ahead of the encoder (``EmbedConfig.read_threads``); forked workers run the plain
path (read, tokenize, encode in turn). The tokens and embeddings are the same either way.

Modules: :mod:`clef.embed.job` (``embed_cohort``: resume, schedule, commit; ``embed_chunk``: the
work of a shard; ``parts/`` on disk and the final consolidation), :mod:`clef.embed.config`
(``EmbedConfig``, the scheduler, shards, the Dask client), :mod:`clef.embed.worker` (what each
process keeps: the model and cohort caches, the read-ahead and forked-process pools).
"""
from __future__ import annotations

from clef.embed.config import EmbedConfig, resolve_scheduler
from clef.embed.job import embed_chunk, embed_chunks_here, embed_cohort
from clef.embed.worker import MODEL_LOADS, load_model, resolve_checkpoint
from clef.embedding import (  # re-exported for clef.embed users
    embed_recording,
    embed_sessions,
    tokenizer_sfreq,
)

__all__ = [
    "MODEL_LOADS",
    "EmbedConfig",
    "embed_chunk",
    "embed_chunks_here",
    "embed_cohort",
    "embed_recording",
    "embed_sessions",
    "load_model",
    "resolve_checkpoint",
    "resolve_scheduler",
    "tokenizer_sfreq",
]
