"""The student form of each teaching notebook (no solution cells) runs top to bottom on its own.

A module of its own so that ``make test``'s parallel workers (pytest-xdist, one module per worker
at a time) execute the student and the teacher forms side by side; see ``test_notebooks.py``.
The teacher forms run with the notebooks' own parameters; the student forms, which check that the
exercise scaffolds run, with the smallest settings of the two slowest notebooks (``SMALL``,
appended to the parameters cell as papermill injects parameters).
"""
from __future__ import annotations

from pathlib import Path

import pytest
from test_notebooks import (  # noqa: F401 - pytest fixtures, used by name
    SOURCES,
    _inline_matplotlib,
    execute_form,
    sample_dir,
)

# notebook -> parameter -> value (source text) for the student run
SMALL = {"03_pretraining": {"STEPS": "5"},
         "04_probing": {"PROBE_CS": "(1.0,)", "N_BOOT": "10"}}


@pytest.mark.slow
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_executes(src: Path, request, monkeypatch):
    execute_form(src, "student", request, monkeypatch, parameters=SMALL.get(src.stem))
