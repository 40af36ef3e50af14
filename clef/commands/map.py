"""`clef map`: (re)fit the UMAP cohort map of an index, saved where maps live (INDEX/map)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import MapMinDist, MapNeighbors, MapSeed, exits_on


def map_(
    index: Annotated[Path, typer.Option(help="Index folder written by `clef index`; the map is "
                                             "saved in INDEX/map.")],
    store: Annotated[Path | None, typer.Option(
        help="Store the index was built from (default: the one its manifest records).")] = None,
    n_neighbors: MapNeighbors = 15,
    min_dist: MapMinDist = 0.1,
    seed: MapSeed = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Fit the cohort map of an index's sessions into INDEX/map (replacing an older one)."""
    from clef.errors import ClefError
    from clef.maps import MapConfig, fit_index_map

    command = "clef " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    with exits_on(ClefError):
        cmap = fit_index_map(index, store, config=MapConfig(n_neighbors=n_neighbors,
                                                            min_dist=min_dist, seed=seed),
                             created_by=command)
    if not quiet:
        typer.echo(f"{cmap} -> {cmap.path} ({cmap.params['fit_seconds']:.1f} s)")


def register(app: typer.Typer) -> None:
    """Add ``clef map`` to the CLI."""
    app.command("map")(map_)
