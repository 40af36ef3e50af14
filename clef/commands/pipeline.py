"""The own-cohort pipeline, the README's three commands in order (one module, issue 13):

- ``clef cohort build``: a cohort folder from a user's recordings, reports and EHR tables;
- ``clef embed``: embed every session of a cohort into a store (resumable, Dask or one process);
- ``clef index``: build the FAISS session index (and the UMAP cohort map) of an embedding store.

``build`` is the only subcommand of ``clef cohort``, so the whole ``clef cohort`` group lives here;
a cohort subcommand that is not a pipeline step would belong in a module of its own.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import MapMinDist, MapNeighbors, MapSeed, MinPositives, exits_on

cohort_app = typer.Typer(help="Cohort folders: assemble one from your own recordings.",
                         no_args_is_help=True)


@cohort_app.command("build")
def build(
    recordings: Annotated[Path, typer.Option(
        help="Folder of recordings (EDF/BDF/FIF/.vhdr/.set; TUH-style tree or BIDS dataset).")],
    out: Annotated[Path, typer.Option(help="Cohort folder to write.")],
    reports: Annotated[Path | None, typer.Option(
        help="Folder of <session>.txt reports, or a CSV with a key column and 'report'.")] = None,
    ehr: Annotated[Path | None, typer.Option(help="CSV keyed by session_id/file/path/patient_id "
                                                  "with age, sex, setting, site, diagnoses, "
                                                  "medications (lists as 'a; b').")] = None,
    site: Annotated[str | None, typer.Option(
        help="Site of sessions the tables give none for (default: the folder name).")] = None,
    copy: Annotated[bool, typer.Option(
        "--copy/--link", help="Copy recordings into OUT/recordings, or refer to them in place "
                              "(paths relative to OUT).")] = False,
    check: Annotated[bool, typer.Option(
        "--check/--no-check",
        help="Also decode every signal now to list NaN/flat/saturated channels and unit mistakes "
             "before embedding (reads each recording once more; `clef embed` runs the same checks "
             "and lists what it skips). Header problems are always checked.")] = False,
    tasks: Annotated[bool, typer.Option(
        "--tasks/--no-tasks", help="Derive the task table from diagnoses, medications, "
                                   "demographics and reports.")] = True,
    min_positives: MinPositives = 10,
    keep_phi: Annotated[bool, typer.Option(
        "--keep-phi", help="Keep reports and EHR identifier columns verbatim (default: reports "
                           "are de-identified with clef.deid, name/MRN/birth-date columns dropped, "
                           "copied EDF/BDF headers blanked).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Assemble a cohort folder; unreadable recordings are listed, not fatal."""
    from clef.cohort_build import BuildConfig, build_cohort
    from clef.errors import ClefError

    cfg = BuildConfig(check=check, copy=copy, site=site, derive_tasks=tasks,
                      min_positives=min_positives, progress=not quiet, keep_phi=keep_phi)
    command = "clef " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with exits_on(ClefError):
        res = build_cohort(recordings, out, reports=reports, ehr=ehr, config=cfg,
                           created_by=command)
    n_tasks = res.tasks["task"].nunique() if len(res.tasks) else 0
    typer.echo(f"wrote {res.cohort_dir}: {len(res.sessions)} sessions, "
               f"{res.sessions['patient_id'].nunique()} patients, {n_tasks} tasks, "
               f"{int(res.sessions['report'].notna().sum())} with reports")
    if len(res.failures):
        typer.echo(f"{len(res.failures)} recording(s) left out (listed in "
                   f"{res.cohort_dir / 'failures.parquet'}):", err=True)
        for f in res.failures.itertuples():
            typer.echo(f"  {f.path}: {f.error_type}: {f.message}", err=True)
    typer.echo(f"next: clef embed --cohort {res.cohort_dir}  (writes {res.cohort_dir}/store with "
               "the shipped clef-tiny unless --checkpoint DIR), then "
               f"clef index --cohort {res.cohort_dir} and clef dashboard --cohort {res.cohort_dir}")


def embed(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (sessions.parquet, tasks.parquet).")],
    out: Annotated[Path | None, typer.Option(
        help="Store folder to write (resumed if unfinished); default: COHORT/store, where "
             "`clef index --cohort` and `clef dashboard --cohort` look for it.")] = None,
    checkpoint: Annotated[str | None, typer.Option(
        help="Checkpoint folder (save_pretrained / clef pretrain) or a shipped name; default: "
             "the shipped data_samples/clef-tiny.")] = None,
    scheduler: Annotated[str, typer.Option(
        help="'auto' (worker processes forked from this one on Linux, else this "
             "process), 'processes', 'none' (this process), 'local' (Dask LocalCluster) or a "
             "Dask scheduler address such as tcp://host:8786 (the same command scales out on a "
             "cluster).")] = "auto",
    workers: Annotated[int | None, typer.Option(
        help="Worker processes or LocalCluster workers (default: one per core).")] = None,
    threads_per_worker: Annotated[int, typer.Option(help="Torch threads per worker.")] = 1,
    read_threads: Annotated[int | None, typer.Option(
        help="Threads reading and tokenizing ahead of the encoder (default: one per core; 0 = "
             "read, tokenize and encode in turn, best on a machine other jobs keep busy).")
                            ] = None,
    batch_size: Annotated[int, typer.Option(help="Sessions per forward pass.")] = 8,
    shard_size: Annotated[int, typer.Option(
        help="Sessions per committed shard (a killed run redoes at most this many).")] = 32,
    states: Annotated[bool, typer.Option(
        "--states/--no-states", help="Also store per-time-patch embeddings.")] = False,
    device: Annotated[str, typer.Option(help="Torch device in each worker.")] = "cpu",
    token_cache: Annotated[Path | None, typer.Option(
        help="Token cache folder to reuse and fill (e.g. pretraining's --cache-dir/tokens).")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Discard what --out holds (store and unfinished run) first.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Embed every session of a cohort; bad recordings go to the store's failures table."""
    from clef.embed import EmbedConfig, embed_cohort, resolve_scheduler

    if resolve_scheduler(scheduler, threads_per_worker=threads_per_worker) == "processes":
        from clef.embed.worker import start_signal_designs

        start_signal_designs()  # on the other core, while this process imports torch
    from clef.bundle import cohort_store_dir
    from clef.commands.defaults import checkpoint_or_default
    from clef.errors import ClefError

    in_cohort = out is None
    out = cohort_store_dir(cohort) if out is None else out

    for name, value in (("--batch-size", batch_size), ("--shard-size", shard_size),
                        ("--threads-per-worker", threads_per_worker)):
        if value < 1:
            raise typer.BadParameter(f"must be at least 1, got {value}", param_hint=name)
    if read_threads is not None and read_threads < 0:
        raise typer.BadParameter(f"must be 0 or more, got {read_threads}",
                                 param_hint="--read-threads")
    cfg = EmbedConfig(scheduler=scheduler, n_workers=workers,
                      threads_per_worker=threads_per_worker, batch_size=batch_size,
                      shard_size=shard_size, states=states, device=device, progress=not quiet,
                      token_cache=str(token_cache) if token_cache else None,
                      read_threads=read_threads)
    command = "clef " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with exits_on(ClefError, ValueError):
        checkpoint = checkpoint_or_default(checkpoint)
        store = embed_cohort(cohort, checkpoint, out, cfg, created_by=command,
                             overwrite=overwrite)
    if not quiet:
        run = store.manifest.get("run", {})
        typer.echo(f"{store}")
        if run:
            typer.echo(f"  embedded {run['sessions_embedded']} sessions this run in "
                       f"{run['seconds']:.1f} s ({run['sessions_per_s']:.2f} sessions/s)")
        typer.echo("next: clef index " + (f"--cohort {cohort}" if in_cohort
                                          else f"--store {out}"))
    if len(store.failures):
        typer.echo(f"{len(store.failures)} session(s) could not be embedded "
                   f"(listed in {store.path / 'failures.parquet'}):", err=True)
        for f in store.failures.head(20).itertuples():
            typer.echo(f"  {f.session_id}: {f.error_type}: {f.message}", err=True)


def index(
    store: Annotated[Path | None, typer.Option(
        help="Store folder written by `clef embed`; default: COHORT/store.")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Index folder to write; default: the store's sibling index/ (COHORT/index).")] = None,
    cohort: Annotated[Path | None, typer.Option(
        help="Cohort folder whose store (COHORT/store, `clef embed --cohort`'s default) is "
             "indexed into COHORT/index.")] = None,
    kind: Annotated[str, typer.Option(
        help="auto (exact up to 200k sessions, IVF above), flat, ivf or hnsw.")] = "auto",
    target_recall: Annotated[float, typer.Option(
        help="recall@10 that IVF/HNSW search parameters are tuned to reach.")] = 0.95,
    map_: Annotated[bool, typer.Option(
        "--map/--no-map", help="Also fit the UMAP cohort map into OUT/map (where the dashboard "
                               "looks for it; `clef map` refits it later).")] = True,
    n_neighbors: MapNeighbors = 15,
    min_dist: MapMinDist = 0.1,
    seed: MapSeed = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Build a cosine session index over a store; optionally fit its cohort map."""
    from clef.bundle import cohort_store_dir, store_index_dir
    from clef.errors import ClefError
    from clef.index import KINDS, IndexConfig, SessionIndex
    from clef.maps import MapConfig, fit_index_map
    from clef.store import EmbeddingStore

    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not one of {', '.join(KINDS)}",
                                 param_hint="--kind")
    if not 0 < target_recall <= 1:
        raise typer.BadParameter("must be in (0, 1]", param_hint="--target-recall")
    if store is None and cohort is None:
        raise typer.BadParameter("pass --cohort DIR (indexes DIR/store into DIR/index) or "
                                 "--store STORE", param_hint="--cohort/--store")
    store = cohort_store_dir(cohort) if store is None else store
    out = store_index_dir(store) if out is None else out
    command = "clef " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with exits_on(ClefError):
        st = EmbeddingStore.open(store, verify=True)
        idx = SessionIndex.build(st, kind=kind, config=IndexConfig(target_recall=target_recall),
                                 progress=not quiet)
        idx.save(out, created_by=command)
        if not quiet:
            typer.echo(f"{idx} -> {out}")
        if map_:
            cmap = fit_index_map(out, st, config=MapConfig(n_neighbors=n_neighbors,
                                                           min_dist=min_dist, seed=seed),
                                 created_by=command)
            if not quiet:
                typer.echo(f"{cmap} -> {cmap.path} ({cmap.params['fit_seconds']:.1f} s)")
    if not quiet:
        where = (f"--cohort {cohort}" if cohort is not None and store == cohort_store_dir(cohort)
                 and out == store_index_dir(store) else f"--store {store} --index {out}")
        typer.echo(f"next: clef dashboard {where}")


def register(app: typer.Typer) -> None:
    """Add ``clef cohort`` (with ``build``), ``clef embed`` and ``clef index`` to the CLI."""
    app.add_typer(cohort_app, name="cohort")
    app.command("embed")(embed)
    app.command("index")(index)
