"""The `clef` command line. Each sub-command lives in `clef/commands/<name>.py` (the own-cohort
pipeline's `cohort build`, `embed` and `index` together in `pipeline.py`) and is registered here."""
from __future__ import annotations

import typer

app = typer.Typer(
    name="clef",
    help="Clinical EEG sessions: read, synthesize, tokenize, embed, index, probe and explore.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _main() -> None:
    """Keep `clef <command>` even while only one sub-command is registered."""

# Registration: each module defines `register(app)`. Keep the list sorted by command name (the
# order `clef --help` lists them): `pipeline` registers `cohort` (a group: typer lists groups after
# commands), `embed` and `index`.
from clef.commands import dashboard as _dashboard
from clef.commands import demo as _demo
from clef.commands import info as _info
from clef.commands import map as _map
from clef.commands import pipeline as _pipeline
from clef.commands import pretrain as _pretrain
from clef.commands import probe as _probe
from clef.commands import query as _query
from clef.commands import synth as _synth
from clef.commands import tasks as _tasks
from clef.commands import tokenizer as _tokenizer

_dashboard.register(app)
_demo.register(app)
_pipeline.register(app)  # cohort build, embed, index
_info.register(app)
_map.register(app)
_pretrain.register(app)
_probe.register(app)
_query.register(app)
_synth.register(app)
_tasks.register(app)
_tokenizer.register(app)

if __name__ == "__main__":
    app()
