"""`clef tasks`: derive a task table for a real cohort (ICD-10, medications, metadata, reports)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import MinPositives


def tasks(
    cohort: Annotated[Path, typer.Option(help="Cohort folder with sessions.parquet.")],
    out: Annotated[Path | None, typer.Option(
        help="Where to write the long task table (default: COHORT/tasks.parquet).")] = None,
    min_positives: MinPositives = 10,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing table.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No summary output.")] = False,
) -> None:
    """Derive phenotype, medication, demographic/setting and report-finding tasks."""
    from clef.errors import ClefError
    from clef.probe.derive import write_tasks

    target = out or (cohort / "tasks.parquet")
    if target.exists() and not force:
        typer.echo(f"error: {target} exists. Fix: pass --force to overwrite or --out elsewhere.",
                   err=True)
        raise typer.Exit(code=1)
    try:
        table = write_tasks(cohort, target, min_positives=min_positives)
    except (ClefError, FileNotFoundError, ValueError) as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None
    if not quiet:
        counts = table.groupby(["category"])["task"].nunique()
        typer.echo(f"wrote {target}: {table['task'].nunique()} tasks "
                   + ", ".join(f"{k} {v}" for k, v in counts.items()))
        dropped = table.attrs.get("dropped", {})
        if dropped:
            typer.echo(f"dropped {len(dropped)} task(s) with too few positives: "
                       + ", ".join(sorted(dropped)[:20]) + (" ..." if len(dropped) > 20 else ""))


def register(app: typer.Typer) -> None:
    """Add ``clef tasks`` to the CLI."""
    app.command("tasks")(tasks)
