"""How a ``clef embed`` run is scheduled: :class:`EmbedConfig`, the scheduler ``"auto"`` picks,
how the pending sessions are cut into shards, and the Dask client of the ``"local"`` and
address schedulers. Nothing here touches a recording (:mod:`clef.embed.job` does).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from clef.errors import ClefError


@dataclass
class EmbedConfig:
    """How ``clef embed`` runs."""

    scheduler: str = "auto"  # "auto" (resolve_scheduler), "none" = this process, "processes" =
    # worker processes forked from this one (Linux), "local" = Dask LocalCluster, else a
    # Dask scheduler address
    n_workers: int | None = None  # worker processes / LocalCluster workers; None = one per core
    threads_per_worker: int = 1  # torch threads in each worker (workers x threads <= cores);
    # "processes" needs 1 (OpenMP cannot start threads in a process forked after it ran)
    batch_size: int = 8  # sessions per forward pass (sorted by length to limit padding)
    shard_size: int = 32  # sessions per committed shard: a killed run redoes at most this many
    states: bool = False  # also store per-time-patch embeddings (float16) for concept timelines
    device: str = "cpu"  # torch device of the model in each worker
    progress: bool = True  # tqdm bar over sessions
    token_cache: str | None = None  # a clef.tokenizer.TokenCache root (e.g. pretraining's) to reuse
    # threads that read + tokenize ahead of the encoder in each process; None = one per core in
    # this process (scheduler "none"), threads_per_worker on a Dask worker; 0 = read, tokenize and
    # encode in turn (the plain path; same embeddings)
    read_threads: int | None = None


def resolve_scheduler(scheduler: str | None, cores: int | None = None,
                      can_fork: bool | None = None, threads_per_worker: int = 1) -> str:
    """``"auto"`` -> ``"processes"`` with 2 or more cores on Linux (where forking is safe) when
    workers run one torch thread, else ``"none"`` (this process); other choices unchanged.

    Forked workers inherit the loaded model and imports: no start-up per worker, no GIL shared
    with the encoder. On 2 cores they embedded 200 ten-minute sessions 1.3x faster than
    read-ahead threads in one process, and a Dask LocalCluster ran at 0.5x one process (a model
    load per worker; ``benchmarks/results/ingest.md``).
    """
    if scheduler != "auto":
        return scheduler or "none"
    cores = (os.cpu_count() or 1) if cores is None else cores
    if can_fork is None:  # macOS offers fork but its system libraries are not fork-safe
        can_fork = sys.platform.startswith("linux")
    return "processes" if cores >= 2 and can_fork and threads_per_worker == 1 else "none"


def n_workers(cfg: EmbedConfig) -> int:
    """Worker processes here: ``n_workers``, else one per ``threads_per_worker`` cores."""
    return cfg.n_workers or max(1, (os.cpu_count() or 1) // max(cfg.threads_per_worker, 1))


def shards(ids: list[str], size: int, workers: int = 1) -> list[list[str]]:
    """``ids`` cut into shards of at most ``size``, small enough that each of ``workers`` gets one
    when there are fewer than ``workers * size`` (a small cohort uses every core). With several
    workers and more sessions than that, the last ``workers * size`` sessions go in quarter-size
    shards, so the workers finish within a small shard of each other instead of one idling
    while the other works through a full one."""
    size = max(1, min(size, -(-len(ids) // max(workers, 1))))
    head = len(ids) - workers * size if workers > 1 else 0  # sessions before the tail
    if head <= 0:
        return [ids[i:i + size] for i in range(0, len(ids), size)]
    small = max(1, size // 4)
    return ([ids[i:i + min(size, head - i)] for i in range(0, head, size)]
            + [ids[i:i + small] for i in range(head, len(ids), small)])


def make_client(cfg: EmbedConfig):
    """A Dask client for ``cfg.scheduler``: a new LocalCluster (``"local"``) or an address."""
    import logging

    from dask.distributed import Client, LocalCluster

    if cfg.scheduler == "local":
        cluster = LocalCluster(n_workers=n_workers(cfg), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        return Client(cluster)
    try:
        return Client(cfg.scheduler, timeout="20s")
    except OSError as e:
        raise ClefError(f"cannot reach the Dask scheduler at {cfg.scheduler!r} ({e}). Fix: start "
                        "it (`dask scheduler`) or use --scheduler local / none.") from e


def close_client(client) -> None:
    """Close a client from :func:`make_client` and the LocalCluster it started, if any."""
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
