"""What each ``clef embed`` process keeps: the model and the cohort, loaded once per process
(caches keyed by checkpoint path and device, and by cohort folder), the token cache, and the
read-ahead pool that runs a function on a few threads ahead of its consumer (:func:`prepared`).

The per-session work itself (read, tokenize, encode) is in :mod:`clef.embed.job`; nothing here
touches a recording.
"""
from __future__ import annotations

import itertools
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path

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


def prepared(fn: Callable, ids: Iterable[str], threads: int, ahead: int,
             torch_threads: int = 0) -> Iterator[tuple]:
    """``(session_id, fn(session_id) or the exception it raised)`` for each id, in order.

    ``fn`` runs on ``threads`` (>= 1) threads, at most ``ahead`` sessions ahead of the consumer
    (memory stays bounded). Each thread uses ``torch_threads`` torch threads (0: torch's
    setting). Closing the generator cancels what has not started and waits for what has.
    """
    if threads < 1:
        raise ValueError(f"prepared() runs fn on at least 1 thread, not {threads}")
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
            queue.append((sid, pool.submit(fn, sid)))
        while queue:
            sid, fut = queue.popleft()
            for nxt in itertools.islice(todo, 1):
                queue.append((nxt, pool.submit(fn, nxt)))
            error = fut.exception()
            if error is not None and not isinstance(error, Exception):
                raise error  # KeyboardInterrupt and the like stop the run
            yield sid, (fut.result() if error is None else error)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def setup(cohort_dir: str, checkpoint: str, options: dict):
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


_DESIGNS_CHILD: dict = {}  # the child of start_signal_designs: {"proc", "recv"}
COMMON_RATES = (250.0, 256.0, 500.0, 512.0, 1000.0, 1024.0, 128.0, 160.0, 400.0)  # Hz


def start_signal_designs() -> None:
    """Fork a child that makes the ``scipy.signal`` designs of the default read and tokenizer
    path (filter, resampling from :data:`COMMON_RATES`, DPSS tapers) while this process imports
    torch and loads the model; :func:`take_signal_designs` adds them here before the workers
    fork, so they do not import ``scipy.signal`` (~1.3 s each, paid while the other core would
    wait). Any other design is made where it is needed, as before. Linux only (fork)."""
    if _DESIGNS_CHILD or not sys.platform.startswith("linux"):
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_send_signal_designs, args=(send,), name="clef-designs",
                       daemon=True)
    proc.start()
    send.close()
    _DESIGNS_CHILD.update(proc=proc, recv=recv)


def default_signal_designs() -> dict:
    """The designs :func:`start_signal_designs` makes (here, in this process)."""
    from clef.io import read
    from clef.io.config import PreprocessConfig, Rate

    cfg = PreprocessConfig()  # what `clef embed` reads with (at the tokenizer's 200 Hz)
    read.filter_design(cfg, None, cfg.sfreq)
    for rate in COMMON_RATES:
        r = Rate.of(rate, cfg, 1)
        read.polyphase_taps(r.up, r.down)
    read.dpss_windows(800, 2.0)  # TokenizerConfig's default 4-s windows at 200 Hz, NW = 2
    return dict(read.SIGNAL_DESIGNS)


def _send_signal_designs(send) -> None:
    from clef.io import read

    try:
        read.SIGNAL_DESIGNS.clear()  # (this child's copy) only the defaults are sent
        send.send(default_signal_designs())
    finally:
        send.close()


def take_signal_designs(timeout_s: float = 30.0) -> int:
    """Add the designs of :func:`start_signal_designs`'s child to this process (those not made
    here already); returns how many. 0 when no child runs or it failed: the designs are then
    made where they are needed."""
    child = _DESIGNS_CHILD
    if not child:
        return 0
    from clef.io import read

    designs: dict = {}
    try:
        if child["recv"].poll(timeout_s):
            designs = child["recv"].recv()
    except (EOFError, OSError):
        designs = {}
    child["proc"].join(timeout=5)
    child["recv"].close()
    _DESIGNS_CHILD.clear()
    added = [k for k in designs if k not in read.SIGNAL_DESIGNS]
    for k in added:
        read.designed(k, lambda k=k: designs[k])
    return len(added)


def in_forked_processes(task: Callable, cohort_dir, ckpt, chunks, next_num, options: dict,
                        workers: int, stats: dict):
    """``(shard number, task(cohort_dir, ckpt, chunk, options))`` as each shard finishes in a
    worker process forked from this one (model and imports inherited); a worker that dies leaves
    its shards pending (its error in ``stats["chunk_errors"]``)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    load_model(ckpt, options.get("device", "cpu"))  # loaded before the fork: inherited
    take_signal_designs()  # made by a child while this process imported torch: inherited
    # the plain path in each worker unless asked: a second thread would share its GIL
    opts = {**options, "read_threads": options.get("read_threads") or 0}
    with ProcessPoolExecutor(max(1, min(workers, len(chunks))),
                             mp_context=multiprocessing.get_context("fork")) as pool:
        futures = {pool.submit(task, cohort_dir, ckpt, chunk, opts): next_num + i
                   for i, chunk in enumerate(chunks)}
        for fut in as_completed(futures):
            try:
                yield futures[fut], fut.result()
            except Exception as e:  # noqa: BLE001 - worker died: its sessions stay pending
                stats["chunk_errors"].append(f"shard {futures[fut]}: {type(e).__name__}: {e}")
