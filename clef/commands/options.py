"""Options that several sub-commands take, defined once (``Annotated`` aliases; each command keeps
its own default): the cohort-map options of ``clef index`` and ``clef map``, the dashboard port of
``clef dashboard`` and ``clef demo``, the task-derivation threshold of ``clef cohort build`` and
``clef tasks``."""
from __future__ import annotations

from typing import Annotated

import typer

# The UMAP cohort map (clef.maps.MapConfig), fitted by `clef index` (--map) and `clef map`.
MapNeighbors = Annotated[int, typer.Option(help="UMAP n_neighbors.")]
MapMinDist = Annotated[float, typer.Option(help="UMAP min_dist.")]
MapSeed = Annotated[int, typer.Option(help="UMAP random seed (reproducible layout).")]

# The Streamlit explorer's port.
Port = Annotated[int, typer.Option(help="Port to serve on.")]

# Task derivation (clef.probe.derive), run by `clef cohort build` (--tasks) and `clef tasks`.
MinPositives = Annotated[int, typer.Option(
    help="Derived tasks need this many positive and negative sessions.")]
