"""The walk of one recording from EDF path to map point (issue 13, docs/ARCHITECTURE.md), measured.

The README's own-cohort commands run on six short real recordings (crops of the shipped EEGMMIDB
runs), in a subprocess that watches them:

    clef cohort build --recordings REC --out C  ->  clef embed --cohort C  ->  clef index --cohort C

The walk is the set of ``clef/`` source files on the Python call stack (every thread) at each
moment something happens to the recording or to what is made from it:

- ``decode``: MNE or clef's EDF reader decodes its samples (``BaseRaw.get_data`` or
  ``clef.io.read.decode_edf`` on the recording's file);
- ``signal``: clef calls ``scipy.signal`` (filters, resampling, DPSS tapers);
- ``spectrum``: the tokenizer's ``torch.fft.rfft``;
- ``encode``: a clef ``torch.nn.Module`` is called from clef code (the encoder's forward);
- ``faiss`` / ``umap``: clef calls FAISS (index, kNN graph) or UMAP (the map);
- ``write``: a file is opened for writing, or renamed, inside the cohort folder (the cohort
  tables, the store, the index, the map; every write goes through ``clef.fileio``).

Nothing is excluded: a file on any of those stacks is on the walk. Files that only run at import
time or hand out constants (``errors.py``, ``channels.py``) are not on a stack at those moments,
so they are not counted; the command registry ``clef/cli.py`` is not either (typer calls the
command function). ``clef embed`` runs with ``--scheduler none`` (in this process, as below four
cores) so the tracer sees the workers' code; on Dask the same functions run in worker processes.

The tests check that (1) each recording is decoded exactly once end to end, by ``clef embed``
(``clef cohort build`` checks headers only, ``clef index`` opens no recording); (2) ``docs/ARCHITECTURE.md``'s walk names exactly the measured files;
(3) the walk does not grow (``KNOWN_WALK_FILES``) and (4) has at most ``MAX_WALK_FILES`` files
(issue 13).

Run ``python tests/test_walk.py`` to print the measurement.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"
WALK_HEADING = "## One recording, from EDF path to map point"
MAX_WALK_FILES = 12  # issue 13
KNOWN_WALK_FILES = 12  # measured 2026-12-03; may only go down (lower it when it does)
MILESTONES = {"cohort": {"write"},  # header checks only: the signal is decoded by `clef embed`
              "embed": {"decode", "signal", "spectrum", "encode", "write"},
              "index": {"faiss", "umap", "write"}}


# ---- the measurement (runs in a subprocess: an audit hook cannot be removed) ---------------------

def _make_recordings(folder: Path) -> list[Path]:
    """Six 30 s EDF recordings: two different half minutes of each shipped real run."""
    import mne

    folder.mkdir(parents=True)
    out = []
    for k in range(2):
        for edf in sorted((REPO / "data_samples" / "real").glob("S001R0*.edf")):
            raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
            raw.crop(10 + 30 * k, 40 + 30 * k)
            path = folder / f"p{k}_{edf.stem.lower()}.edf"
            mne.export.export_raw(path, raw, fmt="edf", verbose="error")
            out.append(path)
    return out


def measure_walk(work: Path) -> dict:
    """Run the three commands in this process and watch them (see the module docstring).

    Returns
    -------
    dict
        ``files``: {clef-relative path: sorted ["command:milestone", ...]};
        ``decodes`` / ``opens``: {command: sorted per-recording counts of decoding raw objects /
        file opens}; ``exit_codes``: {command: exit code}; ``output``: the commands' output.
    """
    import threading
    from collections import Counter, defaultdict

    import torch
    from typer.testing import CliRunner

    import clef
    from clef.cli import app

    lib = str(Path(clef.__file__).resolve().parent) + os.sep
    recordings = {os.path.realpath(p) for p in _make_recordings(work / "recordings")}
    cohort = os.path.realpath(work / "cohort")
    in_cohort = re.compile(re.escape(cohort) + r"($|[\\/])").match
    walk: dict[str, set] = defaultdict(set)
    decoded: dict[tuple, set] = defaultdict(set)
    opens: Counter = Counter()
    state = {"command": None}
    alive: list = []

    def on_stack(frame, what: str) -> None:
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(lib):
                walk[Path(name[len(lib):]).as_posix()].add(f"{state['command']}:{what}")
            frame = frame.f_back

    def from_clef(frame) -> bool:
        return frame.f_back is not None and frame.f_back.f_code.co_filename.startswith(lib)

    def profile(frame, event, arg):
        if state["command"] is None:
            return
        if event == "c_call":
            if arg is torch.fft.rfft:
                on_stack(frame, "spectrum")
            return
        if event != "call":
            return
        code = frame.f_code
        where = code.co_filename.replace(os.sep, "/")
        mne_decode = code.co_name == "get_data" and where.endswith("mne/io/base.py")
        if mne_decode or (code.co_name == "decode_edf" and where.endswith("clef/io/read.py")):
            raw = frame.f_locals.get("self" if mne_decode else "raw")
            files = {os.path.realpath(f) for f in getattr(raw, "filenames", ()) if f}
            for f in files & recordings:
                decoded[(state["command"], f)].add(id(raw))
                alive.append(raw)  # held, so a later Raw of the same file cannot reuse its id
                on_stack(frame, "decode")
        elif (code.co_name in ("_call_impl", "_wrapped_call_impl")
              and where.endswith("torch/nn/modules/module.py")):
            if type(frame.f_locals.get("self")).__module__.startswith("clef.") and from_clef(frame):
                on_stack(frame, "encode")
        elif from_clef(frame):
            for package, what in (("/faiss/", "faiss"), ("/umap/", "umap"),
                                  ("/scipy/signal/", "signal")):
                if package in where:
                    on_stack(frame, what)

    def audit(event, args):
        if state["command"] is None:
            return
        if event == "open" and isinstance(args[0], (str, os.PathLike)):
            path = os.path.realpath(args[0])
            if path in recordings:
                opens[(state["command"], path)] += 1
            if in_cohort(path) and any(c in str(args[1] or "") for c in "wax+"):
                on_stack(sys._getframe(1), "write")
        elif event == "os.rename" and in_cohort(os.path.realpath(args[1])):
            on_stack(sys._getframe(1), "write")

    sys.addaudithook(audit)
    commands = {
        "cohort": ["cohort", "build", "--recordings", str(work / "recordings"), "--out", cohort,
                   "--quiet"],
        "embed": ["embed", "--cohort", cohort, "--scheduler", "none", "--quiet"],
        "index": ["index", "--cohort", cohort, "--quiet"],
    }
    exit_codes, output = {}, []
    for name, argv in commands.items():
        state["command"] = name
        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            result = CliRunner().invoke(app, argv)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            state["command"] = None
            alive.clear()
        exit_codes[name] = result.exit_code
        output.append(f"$ clef {' '.join(argv)}\n{result.output}")
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output.append(repr(result.exception))
    return {
        "files": {f: sorted(v) for f, v in sorted(walk.items())},
        "decodes": {c: sorted(len(decoded[(c, r)]) for r in recordings) for c in commands},
        "opens": {c: sorted(opens[(c, r)] for r in recordings) for c in commands},
        "exit_codes": exit_codes,
        "output": "\n".join(output),
    }


@pytest.fixture(scope="module")
def walk(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("walk")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, __file__, str(work)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    result = json.loads((work / "walk.json").read_text())
    assert result["exit_codes"] == {"cohort": 0, "embed": 0, "index": 0}, result["output"]
    return result


# ---- what the walk must show ---------------------------------------------------------------------

def documented_walk(text: str | None = None) -> list[str]:
    """The ``clef/...`` files named in ARCHITECTURE.md's walk block, in order (each once)."""
    text = ARCHITECTURE.read_text() if text is None else text
    assert WALK_HEADING in text, f"{ARCHITECTURE} lost its section {WALK_HEADING!r}"
    section = text.split(WALK_HEADING, 1)[1]
    block = section.split("```", 2)[1]
    return re.findall(r"^\s+clef/(\S+\.py)\s", block, flags=re.MULTILINE)


def walk_problems(measured: dict, documented: list[str]) -> list[str]:
    """How the documented walk differs from the measured one (empty when they agree)."""
    problems = [f"named twice in the doc: {f}" for f in sorted(set(documented))
                if documented.count(f) > 1]
    problems += [f"on the walk, missing from the doc: clef/{f} ({', '.join(measured[f])})"
                 for f in sorted(set(measured) - set(documented))]
    problems += [f"in the doc, not on the walk: clef/{f}"
                 for f in sorted(set(documented) - set(measured))]
    return problems


@pytest.mark.slow
def test_every_milestone_is_seen(walk):
    """The tracer saw each thing happen in each command (a blind tracer would pass the rest)."""
    seen = {c: {m.split(":")[1] for ms in walk["files"].values() for m in ms
                if m.startswith(c + ":")} for c in MILESTONES}
    assert seen == MILESTONES, walk["files"]


@pytest.mark.slow
def test_each_recording_is_decoded_once_end_to_end(walk):
    assert walk["decodes"]["cohort"] == [0] * 6, walk["decodes"]  # read once end to end
    assert walk["decodes"]["embed"] == [1] * 6, walk["decodes"]
    assert walk["decodes"]["index"] == [0] * 6, walk["decodes"]
    assert walk["opens"]["index"] == [0] * 6, walk["opens"]


@pytest.mark.slow
def test_architecture_doc_names_the_measured_walk(walk):
    problems = walk_problems(walk["files"], documented_walk())
    assert problems == [], ("docs/ARCHITECTURE.md's walk is not the measured one "
                            "(fix the doc, naming each file once):\n" + "\n".join(problems))


@pytest.mark.slow
def test_walk_does_not_grow(walk):
    n = len(walk["files"])
    assert n <= KNOWN_WALK_FILES, (f"the walk grew to {n} files (was {KNOWN_WALK_FILES}): "
                                   f"{sorted(walk['files'])}")


@pytest.mark.slow
def test_walk_at_most_12_files(walk):
    assert len(walk["files"]) <= MAX_WALK_FILES, sorted(walk["files"])


def test_walk_check_can_fail():
    doc = (f"{WALK_HEADING}\n\n```\nclef x\n  clef/a.py   first\n  clef/b.py   second\n"
           "  clef/a.py   again\n```\n")
    assert documented_walk(doc) == ["a.py", "b.py", "a.py"]
    measured = {"a.py": ["x:write"], "c.py": ["x:decode"]}
    assert walk_problems(measured, documented_walk(doc)) == [
        "named twice in the doc: a.py", "on the walk, missing from the doc: clef/c.py (x:decode)",
        "in the doc, not on the walk: clef/b.py"]


if __name__ == "__main__":  # python tests/test_walk.py [WORK]: measure and print
    import tempfile

    work = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="walk-"))
    result = measure_walk(work)
    (work / "walk.json").write_text(json.dumps(result, indent=1))
    for f, ms in result["files"].items():
        print(f"clef/{f:28s} {' '.join(ms)}")
    print(f"{len(result['files'])} files; decodes {result['decodes']}; opens {result['opens']}; "
          f"exit codes {result['exit_codes']}")
