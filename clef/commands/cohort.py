"""`clef cohort build`: a cohort folder from a user's recordings, reports and EHR tables."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

cohort_app = typer.Typer(help="Cohort folders: assemble one from your own recordings.",
                         no_args_is_help=True)


@cohort_app.command("build")
def build(
    recordings: Annotated[Path, typer.Option(
        help="Folder of recordings (EDF/BDF/FIF/.vhdr/.set; TUH-style tree or BIDS dataset).")],
    out: Annotated[Path, typer.Option(help="Cohort folder to write.")],
    reports: Annotated[Path | None, typer.Option(
        help="Folder of <session>.txt reports, or a CSV with a key column and 'report'.")] = None,
    ehr: Annotated[Path | None, typer.Option(
        help="CSV keyed by session_id/file/path/patient_id with age, sex, setting, site, "
             "diagnoses, medications (lists as 'a; b').")] = None,
    site: Annotated[str | None, typer.Option(
        help="Site of sessions the tables give none for (default: the folder name).")] = None,
    copy: Annotated[bool, typer.Option(
        "--copy/--link", help="Copy recordings into OUT/recordings, or refer to them in place "
                              "(paths relative to OUT).")] = False,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Read every signal to find problems (slower).")] = True,
    tasks: Annotated[bool, typer.Option(
        "--tasks/--no-tasks", help="Derive the task table from diagnoses, medications, "
                                   "demographics and reports.")] = True,
    min_positives: Annotated[int, typer.Option(
        help="Derived tasks need this many positive and negative sessions.")] = 10,
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
    try:
        res = build_cohort(recordings, out, reports=reports, ehr=ehr, config=cfg,
                           created_by=command)
    except ClefError as e:
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None
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


def register(app: typer.Typer) -> None:
    """Add ``clef cohort`` (with ``build``) to the CLI."""
    app.add_typer(cohort_app, name="cohort")
