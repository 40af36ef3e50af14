"""Write the workshop copies of the six teaching notebooks.

    .venv/bin/python notebooks/workshop.py            # or: make workshop
    .venv/bin/python notebooks/workshop.py --execute  # also run both copies (a few minutes)

* ``notebooks/_workshop/student/``: every cell tagged ``solution`` removed (nbconvert's
  ``TagRemovePreprocessor``), no outputs: students run the notebook and fill in the exercise
  scaffolds;
* ``notebooks/_workshop/teacher/``: the full notebooks with their solutions (and, without
  ``--execute``, the committed outputs).

The folder is git-ignored. ``nbtools.py`` is copied next to each set so the copies run from there.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

NB_DIR = Path(__file__).resolve().parent
SOLUTION_TAG = "solution"


def sources() -> list[Path]:
    return sorted(NB_DIR.glob("[0-9][0-9]_*.py"))


def student_copy(nb):
    """A copy of ``nb`` without solution cells and without outputs."""
    import copy

    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor

    nb = copy.deepcopy(nb)
    TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True).preprocess(nb, {})
    ClearOutputPreprocessor().preprocess(nb, {})
    return nb


def teacher_copy(src: Path):
    """The full notebook: the committed executed .ipynb when it matches the source, else the
    source without outputs."""
    import jupytext
    import nbformat

    source = jupytext.read(src)
    ipynb = src.with_suffix(".ipynb")
    if ipynb.is_file():
        committed = nbformat.read(ipynb, as_version=4)
        if [c.source.strip() for c in committed.cells] == [c.source.strip() for c in source.cells]:
            return committed
    return source


def execute(nb, cwd: Path, timeout: int = 600):
    import nbclient

    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute()
    return nb


def build(out: Path, run: bool = False) -> dict[str, list[Path]]:
    """Write student/ and teacher/ copies of every notebook under ``out``."""
    import jupytext
    import nbformat

    written: dict[str, list[Path]] = {"student": [], "teacher": []}
    for form in written:
        d = out / form
        d.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NB_DIR / "nbtools.py", d / "nbtools.py")
    for src in sources():
        copies = {"student": student_copy(jupytext.read(src)), "teacher": teacher_copy(src)}
        for form, nb in copies.items():
            if run:
                execute(nb, out / form)
            path = out / form / f"{src.stem}.ipynb"
            nbformat.write(nb, path)
            written[form].append(path)
            print(f"wrote {path}")
    return written


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=NB_DIR / "_workshop")
    ap.add_argument("--execute", action="store_true", help="run both copies after writing them")
    args = ap.parse_args(argv)
    build(args.out, run=args.execute)


if __name__ == "__main__":
    main()
