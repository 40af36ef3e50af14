"""`clef index`: build the FAISS session index (and the UMAP cohort map) of an embedding store."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer


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
    n_neighbors: Annotated[int, typer.Option(help="UMAP n_neighbors.")] = 15,
    min_dist: Annotated[float, typer.Option(help="UMAP min_dist.")] = 0.1,
    seed: Annotated[int, typer.Option(help="UMAP random seed (reproducible layout).")] = 0,
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
    try:
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
    except ClefError as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None
    if not quiet:
        where = (f"--cohort {cohort}" if cohort is not None and store == cohort_store_dir(cohort)
                 and out == store_index_dir(store) else f"--store {store} --index {out}")
        typer.echo(f"next: clef dashboard {where}")


def register(app: typer.Typer) -> None:
    """Add ``clef index`` to the CLI."""
    app.command("index")(index)
