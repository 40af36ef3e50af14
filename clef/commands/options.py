"""Options that several sub-commands take, defined once (``Annotated`` aliases; each command keeps
its own default): the cohort-map options of ``clef index`` and ``clef map``, the dashboard port of
``clef dashboard`` and ``clef demo``, the task-derivation threshold of ``clef cohort build`` and
``clef tasks``; and how a command reports the errors it expects (:func:`exits_on`)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer


@contextmanager
def exits_on(*errors: type[Exception]) -> Iterator[None]:
    """Report ``errors`` raised in the block as ``error: Type: message`` on stderr, exit 1.

    Parameters
    ----------
    *errors : type
        The exception classes the command expects (``ClefError`` and the like): their message
        names the problem and the fix. Anything else propagates with its traceback.
    """
    try:
        yield
    except errors as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None

# The UMAP cohort map (clef.maps.MapConfig), fitted by `clef index` (--map) and `clef map`.
MapNeighbors = Annotated[int, typer.Option(help="UMAP n_neighbors.")]
MapMinDist = Annotated[float, typer.Option(help="UMAP min_dist.")]
MapSeed = Annotated[int, typer.Option(help="UMAP random seed (reproducible layout).")]

# The Streamlit explorer's port.
Port = Annotated[int, typer.Option(help="Port to serve on.")]

# Task derivation (clef.probe.derive), run by `clef cohort build` (--tasks) and `clef tasks`.
MinPositives = Annotated[int, typer.Option(
    help="Derived tasks need this many positive and negative sessions.")]
