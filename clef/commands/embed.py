"""`clef embed`: embed every session of a cohort into a store (resumable, Dask or one process)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer


def embed(
    cohort: Annotated[Path, typer.Option(help="Cohort folder (sessions.parquet, tasks.parquet).")],
    out: Annotated[Path | None, typer.Option(
        help="Store folder to write (resumed if unfinished); default: COHORT/store, where "
             "`clef index --cohort` and `clef dashboard --cohort` look for it.")] = None,
    checkpoint: Annotated[str | None, typer.Option(
        help="Checkpoint folder (save_pretrained / clef pretrain) or a shipped name; default: "
             "the shipped data_samples/clef-tiny.")] = None,
    scheduler: Annotated[str, typer.Option(
        help="'auto' (this process below 4 cores, else a Dask LocalCluster), 'local' (Dask "
             "LocalCluster), 'none' (this process) or a Dask scheduler address such as "
             "tcp://host:8786 (the same command scales out on a cluster).")] = "auto",
    workers: Annotated[int | None, typer.Option(
        help="LocalCluster workers (default: one per core).")] = None,
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
    from clef.bundle import cohort_store_dir
    from clef.commands.defaults import checkpoint_or_default
    from clef.embed import EmbedConfig, embed_cohort
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
    try:
        checkpoint = checkpoint_or_default(checkpoint)
        store = embed_cohort(cohort, checkpoint, out, cfg, created_by=command,
                             overwrite=overwrite)
    except ClefError as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None
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


def register(app: typer.Typer) -> None:
    """Add ``clef embed`` to the CLI."""
    app.command("embed")(embed)
