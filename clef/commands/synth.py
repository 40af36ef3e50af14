"""`clef synth`: write a synthetic clinical EEG cohort folder (tables, oracle and EDF recordings)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def synth(
    out: Annotated[Path, typer.Option("--out", help="Cohort folder to write.")],
    n_sessions: Annotated[int, typer.Option("--n-sessions", min=1, help="Number of sessions.")],
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same bytes.")] = 0,
    sites: Annotated[str, typer.Option(help="Comma-separated sites (A, B, C, D).")] = "A,B",
    minutes: Annotated[float, typer.Option(help="Session length in minutes.")] = 20.0,
    signals: Annotated[str, typer.Option(help="'edf' writes recordings; 'none' only tables "
                                               "(signals regenerate from seed + session id).")
                       ] = "edf",
    n_jobs: Annotated[int, typer.Option("--n-jobs", help="Worker processes (0 = all cores).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Generate a synthetic clinical EEG cohort with reports, EHR, tasks and ground truth."""
    from clef.synth import generate_cohort

    try:
        path = generate_cohort(out, n_sessions=n_sessions, seed=seed, sites=sites,
                               minutes=minutes, signals=signals, n_jobs=n_jobs or None,
                               progress=not quiet,
                               created_by=(f"clef synth --n-sessions {n_sessions} --seed {seed} "
                                           f"--sites {sites} --minutes {minutes:g} "
                                           f"--signals {signals}"))
    except ValueError as e:
        raise typer.BadParameter(str(e)) from e
    typer.echo(f"wrote {n_sessions} sessions to {path}")


def register(app: typer.Typer) -> None:
    """Add ``clef synth`` to the CLI."""
    app.command("synth")(synth)
