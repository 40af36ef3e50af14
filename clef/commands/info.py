"""`clef info PATH`: a recording's summary (channels found and mapped, rate, duration, problems)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def _fmt_seconds(s: float) -> str:
    h, rem = divmod(round(s), 3600)
    m, sec = divmod(rem, 60)
    return f"{s:.1f} s ({h:d}:{m:02d}:{sec:02d})"


def _print_summary(info: dict) -> None:
    echo = typer.echo
    echo(f"{info['path']}")
    echo(f"  format       {info['format']}")
    echo(f"  sfreq        {info['sfreq']:g} Hz")
    echo(f"  duration     {_fmt_seconds(info['duration_s'])}, {info['n_samples']} samples")
    echo(f"  channels     {info['n_channels']} in file, {len(info['found'])} of 19 standard found")
    for ch in info["channels"]:
        if ch["role"] == "eeg":
            echo(f"    {ch['name']:<16} -> {ch['maps_to']}")
        elif ch["role"] == "ear":
            echo(f"    {ch['name']:<16} -> {ch['maps_to']} (ear reference)")
    echo(f"  missing      {', '.join(info['missing']) or 'none'}")
    echo(f"  interpolated {', '.join(info['interpolated']) or 'none'}")
    dropped = info["dropped"]
    echo(f"  dropped      {len(dropped)}: {', '.join(dropped) if dropped else 'none'}")
    anns = info["annotations"]
    if anns:
        echo(f"  annotations  {sum(anns.values())}: "
             + ", ".join(f"{d} x{n}" for d, n in anns.items()))
    else:
        echo("  annotations  none")
    if info["problems"]:
        for p in info["problems"]:
            echo(f"  PROBLEM      {p['error']}: {p['problem']}. Fix: {p['fix']}")
    else:
        echo("  problems     none")


def info(
    path: Annotated[Path, typer.Argument(help="Recording: .edf .bdf .fif .vhdr .set, or a file "
                                              "in a BIDS tree.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    check: Annotated[bool, typer.Option(
        "--check/--no-check", help="Read the signals to find problems (NaN, flat, saturated).")
    ] = True,
    max_missing: Annotated[int, typer.Option(
        help="Missing standard channels allowed (interpolated).")] = 3,
) -> None:
    """Summarize a recording: format, channel mapping, rate, duration, annotations, problems."""
    from clef.errors import InvalidRecording
    from clef.io import summarize

    try:
        summary = summarize(path, check=check, max_missing=max_missing)
    except InvalidRecording as e:
        if as_json:
            typer.echo(json.dumps({"path": str(path), "ok": False, "problems": [
                {"error": type(e).__name__, "problem": e.problem, "fix": e.fix}]}, indent=2))
        else:
            typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        raise typer.Exit(code=1) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    if not summary["ok"]:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``clef info`` to the CLI."""
    app.command("info")(info)
