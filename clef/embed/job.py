"""``embed_cohort``, the ``clef embed`` batch job, and the work of each shard.

The job (first part): resume what ``OUT`` holds, run the pending shards in forked worker
processes, in this process or on Dask, commit each one as it finishes, then consolidate the store.
The work of a shard (:func:`embed_chunk`, middle): read each session once
(:func:`clef.io.read_session`), tokenize it and encode the shard with
:func:`clef.embedding.embed_sessions`; in this process, reading and tokenizing run on a few
threads ahead of the encoder (:func:`clef.embed.worker.prepared`), in forked workers in turn.
A session that cannot be read, tokenized or encoded becomes a failure record (session id, path,
error type and message); the rest of its shard is kept.

Shards on disk and the final store (the end of this module): ``OUT/parts/`` of a run
(:class:`Parts`), and :func:`consolidate`, which merges a previous store and the committed shards
into the store. A shard is ``part-XXXXX.npy`` (+ ``.states.npy``, ``.thumbs.npz``) then
``part-XXXXX.parquet``, each written atomically; the parquet file is the commit mark, so a killed
run leaves only whole shards.
"""
from __future__ import annotations

import datetime as _dt
import io
import itertools
import json
import os
import shutil
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from clef.embed.config import (
    EmbedConfig,
    close_client,
    make_client,
    n_workers,
    resolve_scheduler,
    shards,
)
from clef.embed.resume import (
    checkpoint_file_sha,
    clean_uncommitted,
    cohort_key,
    committed_shards,
    previous_store,
)
from clef.embed.worker import (
    MODEL_LOADS,
    fingerprint_task,
    in_forked_processes,
    load_model,
    prepared,
    read_threads,
    resolve_checkpoint,
    setup,
)
from clef.embedding import embed_sessions, model_input, tokenizer_sfreq
from clef.errors import CheckpointMismatch, ClefError
from clef.fileio import (
    atomic_save_npy,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_parquet,
    relative_path,
)
from clef.store import FAILURE_COLUMNS, EmbeddingStore, model_fingerprint
from clef.thumbnails import pack as pack_thumbnails
from clef.thumbnails import unpack as unpack_thumbnails


def embed_cohort(cohort, checkpoint, out, config: EmbedConfig | None = None, *,
                 created_by: str | None = None, overwrite: bool = False,
                 client=None) -> EmbeddingStore:
    """Embed every session of a cohort into a store folder, resumably.

    Parameters
    ----------
    cohort : str, Path or clef.cohort.Cohort
    checkpoint : str or Path
        Checkpoint folder (``save_pretrained``) or a shipped name such as ``"clef-tiny"``.
    out : str or Path
        Store folder. An unfinished run there is resumed; a finished store is extended with the
        cohort's new sessions (same model only).
    config : EmbedConfig, optional
    created_by : str, optional
        Command line recorded in the manifest.
    overwrite : bool
        Discard whatever ``out`` holds (store and unfinished shards) first.
    client : dask.distributed.Client, optional
        Use this client instead of ``config.scheduler``.

    Returns
    -------
    EmbeddingStore

    Raises
    ------
    clef.errors.CheckpointMismatch
        ``out`` holds embeddings from another model (use a new ``out`` or ``overwrite``).
    clef.errors.ClefError
        No session could be embedded, or shards failed on the cluster (re-run to retry them).
    """
    from clef.cohort import Cohort

    cfg = config or EmbedConfig()
    cfg = EmbedConfig(**{**asdict(cfg), "scheduler": resolve_scheduler(
        cfg.scheduler, threads_per_worker=cfg.threads_per_worker)})
    if not isinstance(cohort, Cohort):
        cohort = Cohort.load(cohort)
    ckpt = str(resolve_checkpoint(checkpoint))
    out = Path(out)
    parts = Parts(out)
    if overwrite:
        shutil.rmtree(parts.dir, ignore_errors=True)
        for name in ("manifest.json",) + EmbeddingStore.FILES:
            (out / name).unlink(missing_ok=True)
    t_start = time.perf_counter()

    if cfg.scheduler == "processes" and cfg.threads_per_worker != 1:
        raise ValueError(f"scheduler 'processes' runs 1 torch thread per worker, not "
                         f"{cfg.threads_per_worker}: OpenMP cannot start threads in a forked "
                         "process. Fix: more --workers, or --scheduler local for "
                         "multi-threaded workers.")
    own_client = None
    if client is None and cfg.scheduler not in ("none", "processes", "", None):
        client = own_client = make_client(cfg)
    try:
        if client is not None:
            fp = client.submit(fingerprint_task, ckpt, cfg.device, pure=False).result()
        else:
            fp = model_fingerprint(load_model(ckpt, cfg.device))

        previous, done, committed = _resume_state(out, parts, fp, ckpt, cohort, cfg)
        all_ids = cohort.sessions["session_id"].astype(str).tolist()
        pending = [s for s in all_ids if s not in done]
        next_num = (max(committed) + 1) if committed else 0
        chunks = shards(pending, cfg.shard_size,
                        n_workers(cfg) if cfg.scheduler == "processes" else 1)
        if not chunks and not committed and previous is not None:
            shutil.rmtree(parts.dir, ignore_errors=True)
            return previous  # up to date: nothing new in the cohort

        stats = _run_chunks(cohort, ckpt, chunks, next_num, parts, cfg, client,
                            n_total=len(all_ids), n_done=len(all_ids) - len(pending))
    finally:
        if own_client is not None:
            close_client(own_client)

    if stats["chunk_errors"]:
        first = stats["chunk_errors"][0]
        raise ClefError(
            f"{len(stats['chunk_errors'])} shard(s) failed in a worker (first: "
            f"{first}); {stats['n_sessions']} sessions were committed to {parts.dir}. "
            "Fix: re-run the same command to retry only what is missing.")
    elapsed = time.perf_counter() - t_start
    run_info = {"seconds": round(elapsed, 3), "sessions_embedded": stats["n_sessions"],
                "sessions_per_s": round(stats["n_sessions"] / max(stats["work_s"], 1e-9), 3),
                "workers_seen": len(stats["loads"]),
                "max_model_loads_per_worker": max(stats["loads"].values(), default=0),
                "scheduler": cfg.scheduler if client is None or own_client is not None
                else "client"}
    return consolidate(cohort, out, parts, fp, ckpt, previous, run_info,
                        created_by or "clef.embed.embed_cohort")


def _resume_state(out: Path, parts: Parts, fp: dict, ckpt: str, cohort, cfg: EmbedConfig):
    """What is already done in ``out``: a previous store (same model only) and committed shards.

    Starts ``parts/`` (run description, stray temporary files removed) when needed.

    Returns
    -------
    previous : EmbeddingStore or None
    done : set of str
        Session ids embedded or failed already.
    committed : list of int
        Committed shard numbers.
    """
    previous = previous_store(out, fp)
    run_path = parts.dir / "run.json"
    if run_path.is_file():
        run = json.loads(run_path.read_text())
        if run.get("model_sha256") != fp["model_sha256"]:
            raise CheckpointMismatch(
                f"{out}: an unfinished `clef embed` run with model {run.get('model_name')} "
                f"(sha256 {run.get('model_sha256')}) is in parts/, but the checkpoint "
                f"{ckpt} has sha256 {fp['model_sha256']}. Fix: re-run with that run's "
                "checkpoint, use a new --out folder, or pass --overwrite.")
    parts.dir.mkdir(parents=True, exist_ok=True)
    clean_uncommitted(parts.dir)
    if not run_path.is_file():
        atomic_write_json(run_path, {**fp, "checkpoint": ckpt, "cohort": cohort_key(cohort),
                                     "options": asdict(cfg)})
    done: set[str] = set()
    if previous is not None:
        done |= set(previous.session_ids) | set(previous.failures["session_id"].astype(str))
    committed = committed_shards(parts.dir)
    for num in committed:
        done |= set(pd.read_parquet(parts.dir / f"part-{num:05d}.parquet",
                                    columns=["session_id"])["session_id"].astype(str))
    return previous, done, committed


def _run_chunks(cohort, ckpt, chunks, next_num, parts: Parts, cfg, client, n_total, n_done):
    from tqdm.auto import tqdm

    options = asdict(cfg)
    cohort_dir = cohort_key(cohort)
    stats = {"n_sessions": 0, "loads": {}, "chunk_errors": [], "work_s": 0.0}
    t0 = time.perf_counter()
    with tqdm(total=n_total, initial=n_done, desc="embed", unit="session",
              disable=not cfg.progress) as bar:
        def commit(num, result):
            parts.write(num, result)
            n = len(result["ok_ids"]) + len(result["failures"])
            stats["n_sessions"] += n
            stats["loads"][result["pid"]] = result["model_loads"]
            bar.update(n)
            if result["failures"]:
                bar.set_postfix(failed=sum(1 for _ in result["failures"]), refresh=False)

        if cfg.scheduler == "processes":
            for num, result in in_forked_processes(embed_chunk, cohort_dir, ckpt, chunks,
                                                   next_num, options, n_workers(cfg), stats):
                commit(num, result)
        elif client is None:  # one read-ahead pipeline over all shards (threads stop on exit)
            with closing(embed_chunks_here(cohort_dir, ckpt, chunks, options)) as results:
                for i, result in enumerate(results):
                    commit(next_num + i, result)
        else:
            from dask.distributed import as_completed

            futures = {}
            for i, chunk in enumerate(chunks):
                fut = client.submit(embed_chunk, cohort_dir, ckpt, chunk, options, pure=False,
                                    key=f"clef-embed-{next_num + i:05d}-{os.getpid()}-{t0:.0f}")
                futures[fut] = next_num + i
            for fut in as_completed(list(futures)):
                try:
                    result = fut.result()
                except Exception as e:  # noqa: BLE001 - worker died: sessions stay pending
                    stats["chunk_errors"].append(f"shard {futures[fut]}: {type(e).__name__}: {e}")
                    continue
                commit(futures[fut], result)
                fut.release()
    stats["work_s"] = time.perf_counter() - t0
    return stats


# ---- the work of a shard ---------------------------------------------------------------------

def _failure(session_id, path, exc) -> dict:
    return {"session_id": str(session_id), "path": path if isinstance(path, str) else None,
            "error_type": type(exc).__name__, "message": str(exc)}


def _prepare(model, cohort, cache, sfreq: float, tokenize: bool, sid: str):
    """One session ready for the encoder, or the exception that stopped it (a bad recording).

    Its tokens (a batch of one), or with ``tokenize`` off its Session (the plain path tokenizes
    a batch at a time); with a token cache, its cached Tokens (tokenized once per config).
    """
    import torch

    try:
        with torch.no_grad():
            if cache is not None:
                return cache.get_or_compute(sid, lambda: _read(cohort, sid, sfreq))
            session = _read(cohort, sid, sfreq)
            if not tokenize:
                return session
            # a list of one, as embed_sessions tokenizes it (same tokens, same error messages)
            return model.tokenizer.tokenize([model_input(model, session)])
    except Exception as e:  # noqa: BLE001 - a bad recording: its error is the result
        return e


def _read(cohort, sid: str, sfreq: float):
    """A session's recording, decoded once by :func:`clef.io.read_session`; a synthetic
    cohort's session without a file is regenerated from its seed (``Cohort.session``)."""
    import clef.io

    path = cohort.recording_path(sid)
    if path is None:
        return cohort.session(sid, sfreq=sfreq)
    return clef.io.read_session(path, sfreq=sfreq)


def _tokens_and_thumbnail(model, item):
    """A prepared session's tokens (a Session is tokenized here) and spectrogram thumbnail."""
    import torch

    from clef.thumbnails import tokens_thumbnail
    from clef.tokens import Tokens

    if not isinstance(item, Tokens):
        with torch.no_grad():
            item = model.tokenizer.tokenize([model_input(model, item)])
    return item, tokens_thumbnail(model.tokenizer, item)


def _encode_shard(model, cohort, items: Iterable[tuple], options: dict) -> dict:
    """Encode one shard's prepared sessions; failures (prepare or encode) become records."""
    ids, ready, thumbs, failures = [], [], [], []
    for sid, item in items:
        try:
            if isinstance(item, Exception):
                raise item
            tokens, thumb = _tokens_and_thumbnail(model, item)
        except Exception as e:  # noqa: BLE001 - a bad recording: its error is the result
            failures.append(_failure(sid, cohort.row(sid)["path"], e))
            continue
        ids.append(sid)
        ready.append(tokens)
        thumbs.append(thumb)
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
        "thumbnails": [thumbs[i] for i in keep],
        "failures": failures,
        "pid": os.getpid(),
        "model_loads": MODEL_LOADS["count"],
    }


def _stream(cohort_dir: str, checkpoint: str, ids: list[str], options: dict, here: bool):
    """The model, the cohort and ``(session id, prepared session or its error)`` in order."""
    model, cohort, cache = setup(cohort_dir, checkpoint, options)
    threads = read_threads(options, here)
    fn = partial(_prepare, model, cohort, cache, tokenizer_sfreq(model), threads > 0)
    if threads == 0:  # the plain path: read, then tokenize and encode in batches, in turn
        return model, cohort, ((sid, fn(sid)) for sid in ids)
    ahead = 2 * threads + int(options.get("batch_size", 8))
    torch_threads = int(options.get("threads_per_worker") or 0)
    return model, cohort, prepared(fn, ids, threads, ahead, torch_threads)


def embed_chunk(cohort_dir: str, checkpoint: str, session_ids: list[str], options: dict) -> dict:
    """Read, tokenize and embed some sessions of a cohort (a Dask task, or called locally).

    Returns a dict: ``ok_ids`` (list), ``vectors`` (n_ok, D) float32, ``thumbnails`` (a
    Thumbnail or None per ok id), ``states`` (list of (W, D) float16 or None), ``failures``
    (list of dicts), ``pid``, ``model_loads``.
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


# ---- shards on disk and the final store -------------------------------------------------------

class Parts:
    """The ``OUT/parts/`` folder of a run: committed shards and the run description."""

    def __init__(self, out: Path):
        self.dir = out / "parts"

    def read(self, num: int):
        """(table, vectors, states or None, thumbnails: one Thumbnail or None per ok row)."""
        table = pd.read_parquet(self.dir / f"part-{num:05d}.parquet")
        vectors = np.load(self.dir / f"part-{num:05d}.npy", allow_pickle=False)
        spath = self.dir / f"part-{num:05d}.states.npy"
        states = np.load(spath, allow_pickle=False) if spath.is_file() else None
        tpath = self.dir / f"part-{num:05d}.thumbs.npz"
        thumbs = [None] * len(vectors)  # none in this shard (or a shard of an older run)
        if tpath.is_file():
            with np.load(tpath, allow_pickle=False) as z:
                thumbs = unpack_thumbnails(z["images"], z["info"], z["freqs"])
        return table, vectors, states, thumbs

    def write(self, num: int, result: dict) -> None:
        """Commit one shard: arrays first, then the parquet table (the commit mark)."""
        ok, fail = result["ok_ids"], result["failures"]
        vectors = np.asarray(result["vectors"], np.float32)  # (n_ok, D)
        n_states = [0] * len(ok)
        if result.get("states") is not None:
            n_states = [len(s) for s in result["states"]]
            stacked = (np.concatenate(result["states"]) if ok else
                       np.zeros((0, vectors.shape[1]), np.float16))  # (sum W, D)
            atomic_save_npy(self.dir / f"part-{num:05d}.states.npy", stacked)
        packed = pack_thumbnails(result.get("thumbnails") or [])
        if packed is not None:
            buf = io.BytesIO()
            np.savez(buf, images=packed[0], info=packed[1], freqs=packed[2])
            atomic_write_bytes(self.dir / f"part-{num:05d}.thumbs.npz", buf.getvalue())
        atomic_save_npy(self.dir / f"part-{num:05d}.npy", vectors)
        table = pd.DataFrame({
            "session_id": list(ok) + [f["session_id"] for f in fail],
            "ok": [True] * len(ok) + [False] * len(fail),
            "n_states": n_states + [0] * len(fail),
            "path": [None] * len(ok) + [f["path"] for f in fail],
            "error_type": [None] * len(ok) + [f["error_type"] for f in fail],
            "message": [None] * len(ok) + [f["message"] for f in fail],
        })
        atomic_write_parquet(self.dir / f"part-{num:05d}.parquet", table)


def consolidate(cohort, out: Path, parts: Parts, fp, ckpt, previous, run_info, created_by):
    """Merge the previous store and committed shards into the final store (cohort order)."""
    vec: dict[str, np.ndarray] = {}
    states: dict[str, np.ndarray] = {}
    thumbs: dict = {}  # session id -> Thumbnail
    failures: dict[str, dict] = {}
    has_states = False
    if previous is not None:
        emb = np.asarray(previous.embeddings)
        prev_states = None
        if (previous.path / "states.npy").is_file():
            prev_states = np.load(previous.path / "states.npy", allow_pickle=False)
            prev_off = np.load(previous.path / "state_offsets.npy", allow_pickle=False)
            has_states = True
        for i, sid in enumerate(previous.session_ids):
            vec[sid] = emb[i]
            if prev_states is not None:
                states[sid] = prev_states[prev_off[i]:prev_off[i + 1]]
            if (t := previous.thumbnail(sid)) is not None:
                thumbs[sid] = t
        for rec in previous.failures.to_dict("records"):
            failures[str(rec["session_id"])] = rec
    for num in committed_shards(parts.dir):
        table, vectors, st, part_thumbs = parts.read(num)
        offsets = np.concatenate([[0], np.cumsum(table.loc[table["ok"], "n_states"])])
        for j, sid in enumerate(table.loc[table["ok"], "session_id"].astype(str)):
            vec.setdefault(sid, vectors[j])  # first commit wins: never a duplicate row
            if st is not None:
                states.setdefault(sid, st[offsets[j]:offsets[j + 1]])
                has_states = True
            if part_thumbs[j] is not None:
                thumbs.setdefault(sid, part_thumbs[j])
        for rec in table.loc[~table["ok"], FAILURE_COLUMNS].to_dict("records"):
            failures.setdefault(str(rec["session_id"]), rec)

    sessions = cohort.sessions.copy()
    sessions["session_id"] = sessions["session_id"].astype(str)
    ok_mask = sessions["session_id"].isin(vec.keys()).to_numpy()
    meta = sessions[ok_mask].reset_index(drop=True)
    ids = meta["session_id"].tolist()
    failed = [failures[s] for s in sessions["session_id"] if s in failures and s not in vec]
    if not ids:
        first = failed[0] if failed else {"error_type": "?", "message": "no sessions"}
        raise ClefError(f"no session of {cohort.root} could be embedded ({len(failed)} failed; "
                        f"first: {first['error_type']}: {first['message']}). Fix: check the "
                        "recordings with `clef info PATH`, and the checkpoint.")
    embeddings = np.stack([vec[s] for s in ids])  # (N, D)
    labels = None
    if len(cohort.tasks):
        labels = cohort.labels().reindex(ids).reset_index()
        labels["session_id"] = labels["session_id"].astype(str)
    st_arr = st_off = None
    if has_states:
        lens = [len(states.get(s, ())) for s in ids]
        st_off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)  # (N + 1,)
        st_arr = (np.concatenate([states[s] for s in ids if s in states])
                  if st_off[-1] else np.zeros((0, embeddings.shape[1]), np.float16))
    # paths relative to the store folder, so a copied or cloned bundle points at its own parts
    extra = {"checkpoint": relative_path(ckpt, out), "checkpoint_sha256": checkpoint_file_sha(ckpt),
             "cohort": relative_path(cohort.root, out),
             "cohort_kind": cohort.meta.get("kind"), "run": run_info,
             "states": bool(has_states),
             "updated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
    store = EmbeddingStore.write(out, embeddings, meta, model_info=fp,
                                 failures=pd.DataFrame(failed, columns=FAILURE_COLUMNS),
                                 labels=labels, states=st_arr, state_offsets=st_off,
                                 thumbnails=[thumbs.get(s) for s in ids] if thumbs else None,
                                 created_by=created_by, extra=extra,
                                 normalize=False)  # unit rows from clef.embedding: checked, kept
    shutil.rmtree(parts.dir, ignore_errors=True)  # everything is in the store now
    return store
