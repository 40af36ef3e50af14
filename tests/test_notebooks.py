"""Teaching notebooks: each runs top to bottom in its student and teacher form, its committed
.ipynb matches its source, and no model figure is typed by hand into a markdown cell.

The py:percent files in ``notebooks/`` are the sources; the paired ``.ipynb`` files carry the
executed outputs (figures) readers see on GitHub. Exercise solutions are cells tagged
``solution``; ``notebooks/workshop.py`` (``make workshop``) writes a student copy without them
(nbconvert's ``TagRemovePreprocessor``) and a teacher copy with them.

* ``test_committed_notebook`` (fast): the .ipynb has the same cells as the .py, was executed
  (outputs, figures, no errors), is small, its figures are projector-ready (>= 110 dpi), it opens
  with objectives, prerequisites and minutes, and its first code cell is the ``parameters`` cell.
* ``test_markdown_has_no_typed_figures`` (fast): markdown cells hold no decimals such as 0.78,
  no percentages and no "N of M" counts (outside physical units such as 0.25 Hz): every number
  about the model is computed and shown by code, so it follows the shipped checkpoint.
* ``test_student_copy_has_no_solutions`` (fast).
* ``test_notebook_executes`` (slow): the teacher form executed from scratch in a fresh kernel
  with nbclient (what ``pytest --nbmake`` does), cwd ``notebooks/``; the student form likewise in
  ``test_notebooks_student.py``.

Notebooks that read the shipped sample bundle (checkpoint, store, index, map) use
``$CLEF_SAMPLE_DIR`` (default ``data_samples/``); when the shipped bundle is incomplete a small
demo bundle is built in a temporary folder (``clef.demo.build_demo_bundle``) so they still run.
"""
from __future__ import annotations

import base64
import importlib.util
import io
import os
import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NB_DIR = REPO / "notebooks"
SOURCES = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))
MAX_IPYNB_BYTES = 2_000_000  # projector-resolution JPEG figures; the repository limit is 5 MB
MIN_DPI = 110
CELL_TIMEOUT_S = 300  # per cell; the small defaults take well under a minute per notebook
BUNDLE_PARTS = ("cohort", "checkpoint", "store", "index", "map")


# A model figure typed into markdown: a decimal with 2+ digits that is not a physical quantity,
# a percentage, or a count such as "39 of 83". Numbers must come from code output instead.
_UNITS = r"(?:Hz|s|ms|µV|uV|mV|V|dB|min|mm|h|cells?)\b"
TYPED_FIGURE = re.compile(
    rf"(?<![\w.])\d*\.\d{{2,}}(?![\d.])(?!\s*{_UNITS})"
    r"|(?<![\w.])\d+(?:\.\d+)?\s?%(?!\s*(?:interval|CI|confidence))"
    r"|(?<![\w.])\d+ of \d+(?![\w.])")


def typed_figures(markdown: str) -> list[str]:
    """Hand-typed numbers in a markdown cell that look like results (see TYPED_FIGURE)."""
    return [m.group(0) for m in TYPED_FIGURE.finditer(markdown)]


def _workshop():
    spec = importlib.util.spec_from_file_location("clef_nb_workshop", NB_DIR / "workshop.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


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
    assert ipynb.stat().st_size < MAX_IPYNB_BYTES, f"{ipynb.name} is over {MAX_IPYNB_BYTES:,} bytes: shrink its figures"
    source = jupytext.read(src)
    committed = nbformat.read(ipynb, as_version=4)
    assert _cells(source) == _cells(committed), (
        f"{ipynb.name} differs from {src.name}. Fix: jupytext --to ipynb --execute "
        f"notebooks/{src.name}")
    code = [c for c in committed.cells if c.cell_type == "code"]
    first = code[0]
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged parameters"
    assert "SHOW_SOLUTIONS" not in first.source, "solutions are tagged cells, not a flag"
    assert any("solution" in c.metadata.get("tags", []) for c in code), (
        f"{ipynb.name} has no exercise solution (a code cell tagged 'solution')")
    opening = committed.cells[0].source
    for must in ("After this notebook you can", "Prerequisites", "Time (about"):
        assert must in opening, f"{ipynb.name}: the first cell must say {must!r}"
    assert all(c.execution_count for c in code), f"{ipynb.name} has unexecuted cells"
    outputs = [o for c in code for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors, f"{ipynb.name} has error outputs: {[e.get('ename') for e in errors]}"
    figures = [o for o in outputs if {"image/png", "image/jpeg"} & set(o.get("data", {}))]
    assert figures, f"{ipynb.name} has no figure outputs"
    from PIL import Image

    for o in figures:
        kind = next(k for k in ("image/jpeg", "image/png") if k in o["data"])
        img = Image.open(io.BytesIO(base64.b64decode(o["data"][kind])))
        dpi = img.info.get("dpi", (0, 0))[0]
        assert round(dpi) >= MIN_DPI, (f"{ipynb.name}: a figure at {dpi} dpi (< {MIN_DPI}); "
                                       "call nbtools.style() before plotting")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_markdown_has_no_typed_figures(src: Path):
    """Numbers about the model are shown by code (display(Markdown(f"..."))), never typed, so
    the text stays true when the shipped checkpoint is retrained."""
    bad = {i: typed_figures(c.source) for i, c in enumerate(jupytext.read(src).cells)
           if c.cell_type == "markdown"}
    bad = {i: v for i, v in bad.items() if v}
    assert not bad, (f"{src.name}: markdown cells {sorted(bad)} type figures {bad}. Fix: compute "
                     "them and show them with nbtools.say(f'...').")


def test_typed_figure_check_can_fail():
    for planted in ("mean AUROC 0.783", "beats it on 39 of 83 tasks", "85% of tasks",
                    "recall@1 .215", "lift falls from 1.20 to 1.00", "a 12 % drop",
                    "95% of tasks"):
        assert typed_figures(planted), planted
    for fine in ("0.25 Hz bins", "a 0.5 Hz high-pass", "chance is 0.5", "NW = 2", "ICD-10 codes",
                 "10-20 system", "4 s windows every 2 s", "1,500 steps", "a 95% interval"):
        assert not typed_figures(fine), fine


def test_student_copy_has_no_solutions(tmp_path):
    ws = _workshop()
    written = ws.build(tmp_path)
    assert [p.stem for p in written["student"]] == [p.stem for p in SOURCES]
    for stu, tea in zip(written["student"], written["teacher"]):
        s, t = nbformat.read(stu, as_version=4), nbformat.read(tea, as_version=4)
        tags = [c.metadata.get("tags", []) for c in s.cells]
        assert not any("solution" in tg for tg in tags), f"{stu.name} still has solutions"
        n_sol = sum("solution" in c.metadata.get("tags", []) for c in t.cells)
        assert n_sol and len(t.cells) - len(s.cells) == n_sol, stu.name
        assert not any(c.get("outputs") for c in s.cells if c.cell_type == "code")
    assert (tmp_path / "student" / "nbtools.py").is_file()


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
    """The teacher form: the source itself (the student form: ``test_notebooks_student.py``, a
    module of its own so that parallel workers can run the two forms side by side)."""
    execute_form(src, "teacher", request, monkeypatch)


def execute_form(src: Path, form: str, request, monkeypatch,
                 parameters: dict[str, str] | None = None) -> None:
    """Execute the ``form`` ("teacher" or "student") of notebook ``src``; the student form has no
    solution cells, so every exercise scaffold must run on its own. ``parameters`` (name ->
    source text) are appended to the parameters cell, each name checked to be one of its own."""
    if _needs_bundle(src):
        monkeypatch.setenv("CLEF_SAMPLE_DIR", str(request.getfixturevalue("sample_dir")))
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    nb = jupytext.read(src)
    if form == "student":
        nb = _workshop().student_copy(nb)
        assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    if parameters:
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for name, value in parameters.items():
            assert re.search(rf"^{name} = ", cell.source, re.MULTILINE), name
            cell.source += f"\n{name} = {value}  # injected by the test"
    _execute(nb)


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
