"""The student form of each teaching notebook (no solution cells) runs top to bottom on its own.

A module of its own so that ``make test``'s parallel workers (pytest-xdist, one module per worker
at a time) execute the student and the teacher forms side by side; see ``test_notebooks.py``.
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


@pytest.mark.slow
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_student_notebook_executes(src: Path, request, monkeypatch):
    execute_form(src, "student", request, monkeypatch)
