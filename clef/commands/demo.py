"""`clef demo`: the explorer on the shipped data_samples/ (or build a demo bundle first)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import Port
from clef.errors import ClefError


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        build: Annotated[Path | None, typer.Option(help="Build a synthetic demo bundle "
                                                        "(random-init model) in this folder and "
                                                        "open it instead of data_samples/.")
                         ] = None,
        sessions: Annotated[int, typer.Option(help="Sessions in a --build bundle.")] = 48,
        seed: Annotated[int, typer.Option(help="Seed of a --build bundle.")] = 0,
        checkpoint: Annotated[Path | None, typer.Option(
            help="Trained checkpoint for a --build bundle (default: random init).")] = None,
        address: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
        port: Port = 8501,
        open_app: Annotated[bool, typer.Option("--open/--no-open",
                                               help="Start the app (--no-open: build only).")]
        = True,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    ) -> None:
        """Open the explorer on data_samples/ (`make demo`)."""
        from clef.bundle import DEFAULT_ROOT, Bundle
        from clef.demo import build_demo_bundle, launch_dashboard

        try:
            root = DEFAULT_ROOT
            if build is not None:
                typer.echo(f"building a demo bundle ({sessions} synthetic sessions) in {build}")
                b = build_demo_bundle(build, n_sessions=sessions, seed=seed,
                                      checkpoint=checkpoint, progress=not quiet,
                                      overwrite=(build / "bundle.json").is_file())
                root = b.root
            else:
                Bundle.locate(root)
            if not open_app:
                typer.echo(f"bundle ready: {root}")
                return
            typer.echo(f"CLEF explorer on http://{address}:{port} with {root}  (Ctrl+C to stop)")
            code = launch_dashboard(bundle=root, address=address, port=port)
        except ClefError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        raise typer.Exit(code)
