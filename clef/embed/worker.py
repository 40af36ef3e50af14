"""The work of one ``clef embed`` process: read, tokenize and encode sessions of a cohort.

The model and the cohort are loaded once per process (caches keyed by checkpoint path and device,
and by cohort folder). Reading and tokenizing a session (numpy, scipy and torch, which release the
GIL) run on ``read_threads`` threads, in order and a bounded number of sessions ahead of the
encoder (:func:`prepared`); the calling thread encodes each shard's single-session tokens with
:func:`clef.embedding.embed_sessions`. That is the plain path's result: the tokens of a list are
the collated tokens of its items, and a shard is batched the same way (sorted by length).
``read_threads=0`` is the plain path itself: read every session of a shard, then tokenize and
encode them in batches, in this thread.

A session that cannot be read or tokenized, and one whose batch cannot be encoded, becomes a
failure record (session id, path, error type and message); the rest of its shard is kept.
"""
from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing
from functools import partial
from pathlib import Path

import numpy as np

from clef.embedding import embed_sessions, model_input, tokenizer_sfreq
from clef.errors import CheckpointMismatch
from clef.store import model_fingerprint

_MODELS: dict = {}
_COHORTS: dict = {}
MODEL_LOADS = {"count": 0}  # how many times this process loaded a model (tests, benchmarks)
MAX_READ_THREADS = 8  # more threads than this only contend for the GIL


def resolve_checkpoint(checkpoint) -> Path:
    """Absolute path of a checkpoint folder (or a shipped checkpoint name such as 'clef-tiny')."""
    from clef.model.hub import resolve_checkpoint as _resolve

    try:
        return Path(_resolve(checkpoint)).resolve()
    except FileNotFoundError as e:
        raise CheckpointMismatch(str(e)) from e


def load_model(checkpoint, device: str = "cpu"):
    """The model at ``checkpoint``, loaded once per process and cached (eval mode)."""
    key = (str(resolve_checkpoint(checkpoint)), str(device))
    model = _MODELS.get(key)
    if model is None:
        from clef.model import CLEFModel

        model = CLEFModel.from_pretrained(key[0], map_location=device).eval()
        _MODELS[key] = model
        MODEL_LOADS["count"] += 1
    return model


def fingerprint_task(checkpoint: str, device: str) -> dict:
    """The model fingerprint of a checkpoint, computed where the model is loaded (a worker)."""
    return model_fingerprint(load_model(checkpoint, device))


def _load_cohort(cohort_dir: str):
    from clef.cohort import Cohort

    cohort = _COHORTS.get(cohort_dir)
    if cohort is None:
        cohort = _COHORTS[cohort_dir] = Cohort.load(cohort_dir)
    return cohort


def _failure(session_id, path, exc) -> dict:
    return {"session_id": str(session_id), "path": path if isinstance(path, str) else None,
            "error_type": type(exc).__name__, "message": str(exc)}


def read_threads(options: dict, here: bool) -> int:
    """Threads that read and tokenize ahead of the encoder (0: the plain path, in turn).

    ``options["read_threads"]`` when given; else one per core available to this process
    (``here``: the in-process scheduler, at most :data:`MAX_READ_THREADS`), or
    ``threads_per_worker`` on a Dask worker (which shares the machine with the other workers).
    """
    n = options.get("read_threads")
    if n is None:
        if here:
            try:
                cores = len(os.sched_getaffinity(0))
            except AttributeError:  # not on Linux
                cores = os.cpu_count() or 1
            n = min(cores, MAX_READ_THREADS)
        else:
            n = int(options.get("threads_per_worker") or 1)
    return max(0, int(n))


def _prepare(model, cohort, cache, sfreq: float, tokenize: bool, sid: str):
    """One session ready for the encoder: its tokens (a batch of one), or with ``tokenize`` off
    its Session (the plain path tokenizes a batch at a time). With a token cache: its Tokens."""
    import torch

    with torch.no_grad():
        if cache is not None:  # tokens from (or into) the cache: tokenized once per config
            return cache.get_or_compute(sid, lambda: cohort.session(sid, sfreq=sfreq))
        session = cohort.session(sid, sfreq=sfreq)
        if not tokenize:
            return session
        # a list of one, as embed_sessions tokenizes it (same tokens, same error messages)
        return model.tokenizer.tokenize([model_input(model, session)])


def _attempt(fn: Callable, sid: str):
    try:
        return fn(sid)
    except Exception as e:  # noqa: BLE001 - a bad recording: its error is the result
        return e


def prepared(fn: Callable, ids: Iterable[str], threads: int, ahead: int,
             torch_threads: int = 0) -> Iterator[tuple]:
    """``(session_id, fn(session_id) or the exception it raised)`` for each id, in order.

    ``fn`` runs on ``threads`` threads, at most ``ahead`` sessions ahead of the consumer (memory
    stays bounded); with ``threads=0`` it runs in the consumer's thread when asked. Each thread
    uses ``torch_threads`` torch threads (0: torch's setting). Closing the generator cancels what
    has not started and waits for what has.
    """
    if threads <= 0:
        for sid in ids:
            yield sid, _attempt(fn, sid)
        return
    from concurrent.futures import ThreadPoolExecutor

    init = None
    if torch_threads > 0:
        import torch

        init = partial(torch.set_num_threads, torch_threads)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="clef-embed-read", initializer=init)
    todo = iter(ids)
    queue: deque = deque()
    try:
        for sid in itertools.islice(todo, max(ahead, 1)):
            queue.append((sid, pool.submit(_attempt, fn, sid)))
        while queue:
            sid, fut = queue.popleft()
            for nxt in itertools.islice(todo, 1):
                queue.append((nxt, pool.submit(_attempt, fn, nxt)))
            yield sid, fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _setup(cohort_dir: str, checkpoint: str, options: dict):
    """Torch threads, the cached model and cohort, and the token cache of this process."""
    import torch

    threads = int(options.get("threads_per_worker") or 0)
    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    model = load_model(checkpoint, options.get("device", "cpu"))
    cohort = _load_cohort(cohort_dir)
    cache = None
    if options.get("token_cache"):
        from clef.tokenizer import TokenCache

        cache = TokenCache(options["token_cache"], model.tokenizer.config)
    return model, cohort, cache


def _encode_shard(model, cohort, items: Iterable[tuple], options: dict) -> dict:
    """Encode one shard's prepared sessions; failures (prepare or encode) become records."""
    ids, ready, failures = [], [], []
    for sid, item in items:
        if isinstance(item, Exception):
            failures.append(_failure(sid, cohort.row(sid)["path"], item))
        else:
            ids.append(sid)
            ready.append(item)
    vectors, window, errors = embed_sessions(model, ready,
                                             batch_size=int(options.get("batch_size", 8)),
                                             states=bool(options.get("states")))
    keep = [i for i in range(len(ids)) if i not in errors]
    for i, e in errors.items():
        failures.append(_failure(ids[i], cohort.row(ids[i])["path"], e))
    return {
        "ok_ids": [ids[i] for i in keep],
        "vectors": vectors[keep] if len(keep) else np.zeros((0, vectors.shape[1]), np.float32),
        "states": ([window[i].astype(np.float16) for i in keep] if window is not None else None),
        "failures": failures,
        "pid": os.getpid(),
        "model_loads": MODEL_LOADS["count"],
    }


def _stream(cohort_dir: str, checkpoint: str, ids: list[str], options: dict, here: bool):
    model, cohort, cache = _setup(cohort_dir, checkpoint, options)
    threads = read_threads(options, here)
    fn = partial(_prepare, model, cohort, cache, tokenizer_sfreq(model), threads > 0)
    ahead = 2 * threads + int(options.get("batch_size", 8))
    torch_threads = int(options.get("threads_per_worker") or 0)
    return model, cohort, prepared(fn, ids, threads, ahead, torch_threads)


def embed_chunk(cohort_dir: str, checkpoint: str, session_ids: list[str], options: dict) -> dict:
    """Read, tokenize and embed some sessions of a cohort (a Dask task, or called locally).

    Returns a dict: ``ok_ids`` (list), ``vectors`` (n_ok, D) float32, ``states`` (list of
    (W, D) float16 or None), ``failures`` (list of dicts), ``pid``, ``model_loads``.
    """
    model, cohort, stream = _stream(cohort_dir, checkpoint, list(session_ids), options, False)
    with closing(stream):
        return _encode_shard(model, cohort, stream, options)


def embed_chunks_here(cohort_dir: str, checkpoint: str, chunks: list[list[str]],
                      options: dict) -> Iterator[dict]:
    """:func:`embed_chunk` of each chunk in turn, in this process, with one read-ahead pipeline
    over all of them (the next shard is read while this one is encoded and committed)."""
    ids = [sid for chunk in chunks for sid in chunk]
    model, cohort, stream = _stream(cohort_dir, checkpoint, ids, options, True)
    with closing(stream):
        for chunk in chunks:
            yield _encode_shard(model, cohort, itertools.islice(stream, len(chunk)), options)

