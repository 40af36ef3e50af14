"""`clef query`: nearest sessions to a text concept, a stored session or a recording file."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from clef.commands.options import exits_on

DEFAULT_COLUMNS = ("site", "age", "sex", "setting", "diagnoses", "medications", "report")


def _task_filter(items: list[str]) -> dict[str, int]:
    out = {}
    for item in items:
        name, _, label = item.partition("=")
        if label not in ("", "0", "1"):
            raise typer.BadParameter(f"{item!r}: use TASK or TASK=0 / TASK=1", param_hint="--task")
        out[name.strip()] = int(label or 1)
    return out


def _short(value, width: int = 60) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    if not isinstance(value, str) and hasattr(value, "__iter__"):
        value = ",".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def query(
    index: Annotated[Path, typer.Option(help="Index folder written by `clef index`.")],
    checkpoint: Annotated[str | None, typer.Option(
        help="The checkpoint the index was built with (needed for --text, --recording and "
             "--steer); default: the one the index records, else the shipped clef-tiny.")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Free-text concept query.")] = None,
    session: Annotated[str | None, typer.Option(help="A stored session id.")] = None,
    recording: Annotated[Path | None, typer.Option(help="A recording file to embed.")] = None,
    k: Annotated[int, typer.Option("-k", "--k", help="Number of results.")] = 10,
    site: Annotated[list[str] | None, typer.Option(help="Only these sites (repeat).")] = None,
    age_min: Annotated[float | None, typer.Option(help="Minimum age (years).")] = None,
    age_max: Annotated[float | None, typer.Option(help="Maximum age (years).")] = None,
    sex: Annotated[str | None, typer.Option(help="F or M.")] = None,
    setting: Annotated[str | None, typer.Option(help="outpatient, emu or icu.")] = None,
    diagnosis: Annotated[list[str] | None, typer.Option(
        help="ICD-10 code or prefix, e.g. G40 (repeat: any of them).")] = None,
    medication: Annotated[list[str] | None, typer.Option(
        help="Medication generic name (repeat: any of them).")] = None,
    task: Annotated[list[str] | None, typer.Option(
        help="Task label filter TASK (=1) or TASK=0 (repeat: all of them).")] = None,
    steer: Annotated[str | None, typer.Option(
        help="Concept text to steer a --session/--recording query towards (or away from, "
             "with a negative --steer-weight).")] = None,
    steer_weight: Annotated[float, typer.Option(help="Steering weight.")] = 0.5,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Print the k most similar sessions (rank, score and metadata)."""
    import pandas as pd

    from clef.commands.defaults import checkpoint_or_default
    from clef.errors import ClefError
    from clef.index import SessionIndex
    from clef.index import steer as steer_vector

    given = [name for name, v in (("--text", text), ("--session", session),
                                  ("--recording", recording)) if v is not None]
    if len(given) != 1:
        raise typer.BadParameter("give exactly one of --text, --session, --recording"
                                 + (f" (got {', '.join(given)})" if given else ""))
    filters = {"site": site or None, "sex": sex, "setting": setting,
               "diagnosis": diagnosis or None, "medication": medication or None,
               "task": _task_filter(task) if task else None}
    if age_min is not None or age_max is not None:
        filters["age"] = (age_min, age_max)
    filters = {k_: v for k_, v in filters.items() if v is not None}
    with exits_on(ClefError):
        model = None
        if text is not None or recording is not None or steer:  # these embed with the model
            checkpoint = checkpoint_or_default(checkpoint, built_from=index)
        if checkpoint is not None:
            from clef.embed import load_model

            model = load_model(checkpoint)
        idx = SessionIndex.load(index, model=model)
        if text is not None:
            res = idx.by_text(text, model, k, **filters)
        else:
            if session is not None:
                vec, exclude = idx.vector(session), (session,)
            else:
                from clef.embed import embed_recording

                vec, exclude = embed_recording(model, recording), ()
            if steer:
                vec = steer_vector(vec, steer, steer_weight, model=model)
            res = idx.by_vector(vec, k, exclude=exclude, **filters)
    cols = ["rank", "session_id", "score"] + [c for c in DEFAULT_COLUMNS if c in res.columns]
    res = res[cols]
    if as_csv:
        typer.echo(res.to_csv(index=False), nl=False)
        return
    if res.empty:
        typer.echo("no session matches these filters")
        return
    shown = res.copy()
    for c in shown.columns:
        if c not in ("rank", "score"):
            shown[c] = [_short(v) for v in shown[c]]
    with pd.option_context("display.width", 200, "display.max_colwidth", 60):
        typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def register(app: typer.Typer) -> None:
    """Add ``clef query`` to the CLI."""
    app.command("query")(query)
