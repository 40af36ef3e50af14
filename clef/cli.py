"""The `clef` command line. Each sub-command lives in `clef/commands/<name>.py` and is registered here."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="clef",
    help="Clinical EEG sessions: read, synthesize, tokenize, embed, index, probe and explore.",
    no_args_is_help=True,
    add_completion=False,
)

# Registration: each module defines `register(app)`. Keep the list sorted.
from clef.commands import info as _info  # noqa: E402

_info.register(app)

if __name__ == "__main__":
    app()
