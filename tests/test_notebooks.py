"""Teaching notebooks: each runs top to bottom, and its committed .ipynb matches its source.

The py:percent files in ``notebooks/`` are the sources; the paired ``.ipynb`` files carry the
executed outputs (figures) readers see on GitHub. Two checks per notebook:

* ``test_committed_notebook`` (fast): the .ipynb has the same cells as the .py, was executed
  (outputs, at least one figure, no errors), is under 1 MB, and starts with a ``parameters`` cell
  that runs the exercise solutions (``SHOW_SOLUTIONS = True``), so solutions run in CI.
* ``test_notebook_executes`` (slow): the .py source executed from scratch in a fresh kernel with
  nbclient (what ``pytest --nbmake`` does), cwd ``notebooks/``; any cell error fails the test.

Notebooks that read the shipped sample bundle (checkpoint, store, index, map) use
``$CLEF_SAMPLE_DIR`` (default ``data_samples/``); when the shipped bundle is incomplete a small
demo bundle is built in a temporary folder (``clef.demo.build_demo_bundle``) so they still run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NB_DIR = REPO / "notebooks"
SOURCES = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
MAX_IPYNB_BYTES = 1_000_000
CELL_TIMEOUT_S = 300  # per cell; the small defaults take well under a minute per notebook
BUNDLE_PARTS = ("cohort", "checkpoint", "store", "index", "map")


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def _needs_bundle(src: Path) -> bool:
    return "CLEF_SAMPLE_DIR" in src.read_text()


def test_every_notebook_is_present():
    assert [p.stem[:2] for p in SOURCES] == ["01", "02", "03", "04", "05", "06"], SOURCES


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook(src: Path):
    ipynb = src.with_suffix(".ipynb")
    assert ipynb.is_file(), (f"{ipynb.name} is missing. Fix: jupytext --to ipynb --execute "
                             f"notebooks/{src.name}")
    assert ipynb.stat().st_size < MAX_IPYNB_BYTES, f"{ipynb.name} is over 1 MB: shrink its figures"
    source = jupytext.read(src)
    committed = nbformat.read(ipynb, as_version=4)
    assert _cells(source) == _cells(committed), (
        f"{ipynb.name} differs from {src.name}. Fix: jupytext --to ipynb --execute "
        f"notebooks/{src.name}")
    code = [c for c in committed.cells if c.cell_type == "code"]
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged parameters"
    assert "SHOW_SOLUTIONS = True" in first.source, "solutions must run (SHOW_SOLUTIONS = True)"
    assert all(c.execution_count for c in code), f"{ipynb.name} has unexecuted cells"
    outputs = [o for c in code for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{ipynb.name} has error outputs: {[e.get('ename') for e in errors]}"
    figures = [o for o in outputs if {"image/png", "image/jpeg"} & set(o.get("data", {}))]
    assert figures, f"{ipynb.name} has no figure outputs"


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory) -> Path:
    """The sample bundle the notebooks read: $CLEF_SAMPLE_DIR, data_samples/, or a demo bundle."""
    from clef.demo import Bundle, build_demo_bundle

    env = os.environ.get("CLEF_SAMPLE_DIR")
    if env:
        return Path(env)
    shipped = REPO / "data_samples"
    found = Bundle.locate(shipped, require=False)
    if found.checkpoint is None and (shipped / "clef-tiny" / "config.json").is_file():
        found.checkpoint = shipped / "clef-tiny"  # the notebooks' fallback location
    if all(getattr(found, part) is not None for part in BUNDLE_PARTS):
        return shipped
    import torch

    out = tmp_path_factory.mktemp("sample_bundle")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small model: one thread is as fast and avoids contention
    try:  # enough patients for a few probe tasks; 2-minute sessions keep it to seconds
        build_demo_bundle(out, n_sessions=160, seed=0, minutes=2.0, progress=False,
                          overwrite=True)
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.fixture(autouse=True)
def _inline_matplotlib(monkeypatch):
    """Kernels inherit this process's environment; Streamlit (imported by the dashboard tests)
    sets MPLBACKEND=Agg, which would make every notebook figure silently vanish."""
    monkeypatch.delenv("MPLBACKEND", raising=False)


def _execute(nb) -> None:
    """Run a notebook in a fresh kernel from notebooks/; check it ran and drew figures."""
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NB_DIR)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert any({"image/png", "image/jpeg"} & set(o.get("data", {}))
               for c in code for o in c.get("outputs", []))


@pytest.mark.slow
@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes(src: Path, request, monkeypatch):
    if _needs_bundle(src):
        monkeypatch.setenv("CLEF_SAMPLE_DIR", str(request.getfixturevalue("sample_dir")))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    _execute(jupytext.read(src))


@pytest.mark.slow
def test_notebook_01_synthetic_fallback(monkeypatch):
    """Without the real EEGMMIDB file, notebook 01 reads a synthetic site-A EDF instead."""
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = jupytext.read(NB_DIR / "01_eeg_and_multitaper_tokens.py")
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "FORCE_SYNTHETIC = False" in params.source
    params.source = params.source.replace("FORCE_SYNTHETIC = False", "FORCE_SYNTHETIC = True")
    _execute(nb)
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))
    assert "recording (synthetic)" in text and "EEG FP1-REF" in text
