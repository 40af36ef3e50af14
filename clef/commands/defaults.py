"""Defaults shared by the sub-commands: the checkpoint used when ``--checkpoint`` is omitted."""
from __future__ import annotations

import json
from pathlib import Path

import typer


def _recorded_checkpoint(folder: Path) -> Path | None:
    """The checkpoint a store or index manifest records (relative to that folder), if present."""
    try:
        recorded = json.loads((Path(folder) / "manifest.json").read_text()).get("checkpoint")
    except (OSError, ValueError):
        return None
    if not recorded:
        return None
    path = Path(recorded)
    path = path if path.is_absolute() else Path(folder) / path
    return path if (path / "config.json").is_file() else None


def checkpoint_or_default(checkpoint, *, built_from: Path | None = None) -> str:
    """``--checkpoint`` as given, else the one ``built_from`` records, else the shipped model.

    A note on stderr says which checkpoint was picked when none was given.

    Parameters
    ----------
    checkpoint : str or path or None
        The option's value.
    built_from : path, optional
        A store or index folder whose ``manifest.json`` names the checkpoint it was built with;
        that one is preferred over the shipped default, so queries match the index.

    Returns
    -------
    str
        A checkpoint folder or shipped name.

    Raises
    ------
    CheckpointNotFound
        When nothing was given, nothing is recorded and ``data_samples/clef-tiny`` is missing.
    """
    from clef.model.hub import default_checkpoint

    if checkpoint not in (None, ""):
        return str(checkpoint)
    if built_from is not None:
        recorded = _recorded_checkpoint(Path(built_from))
        if recorded is not None:
            typer.echo(f"note: no --checkpoint given: using {recorded}, the checkpoint "
                       f"{built_from} was built with", err=True)
            return str(recorded)
    path = default_checkpoint()
    typer.echo(f"note: no --checkpoint given: using the shipped clef-tiny ({path})", err=True)
    return str(path)
