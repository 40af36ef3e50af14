"""`clef dashboard`: the Streamlit explorer on a store/index/checkpoint (default data_samples/)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import Port
from clef.errors import ClefError

PathOpt = Annotated[Path | None, typer.Option(exists=True, file_okay=False, dir_okay=True)]


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard(
        store: PathOpt = None,
        index: PathOpt = None,
        checkpoint: Annotated[Path | None, typer.Option(
            exists=True, file_okay=False, dir_okay=True,
            help="Checkpoint folder; default: the bundle's, the one the store records, else the "
                 "shipped data_samples/clef-tiny.")] = None,
        cohort: Annotated[Path | None, typer.Option(
            help="Cohort folder. Alone, it opens everything built from it with the commands' "
                 "defaults (COHORT/store, COHORT/index with its map, the store's checkpoint); "
                 "with --store/--index it only supplies the viewer's signals. Default: the "
                 "store's cohort.")] = None,
        map_: Annotated[Path | None, typer.Option(
            "--map", help="Cohort map folder; default: INDEX/map (where `clef index` and "
                          "`clef map` put it).")] = None,
        bundle: Annotated[Path | None, typer.Option(
            help="Folder holding cohort/ checkpoint/ store/ index/ (default data_samples/).")
        ] = None,
        address: Annotated[str, typer.Option(
            help="Interface to bind; 127.0.0.1 keeps the app on this machine.")] = "127.0.0.1",
        port: Port = 8501,
    ) -> None:
        """Open the explorer (cohort map, concept search, similar sessions, viewer, model)."""
        from clef.bundle import Bundle
        from clef.commands.defaults import checkpoint_or_default
        from clef.demo import launch_dashboard

        try:
            if checkpoint is None and Bundle.locate(bundle, store=store, index=index,
                                                    cohort=cohort, map=map_,
                                                    require=False).checkpoint is None:
                checkpoint = Path(checkpoint_or_default(None))
            typer.echo(f"CLEF explorer on http://{address}:{port}  (Ctrl+C to stop)")
            code = launch_dashboard(bundle=bundle, store=store, index=index,
                                    checkpoint=checkpoint, cohort=cohort, map=map_,
                                    address=address, port=port)
        except ClefError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        raise typer.Exit(code)
