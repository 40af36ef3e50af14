"""Shared fixtures. Real recordings ship in data_samples/real/ (three EEGMMIDB runs), so tests on
real EEG run on any fresh clone; ../shared/data/eegmmidb/ adds more runs when present."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_EEG = REPO / "data_samples" / "real"
EEGMMIDB = REPO.parent / "shared" / "data" / "eegmmidb"


@pytest.fixture
def one_torch_thread():
    """One torch thread: on the shared 2-core machine, 2 threads under load are 5-50x slower.
    Use per module: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def eegmmidb_dir() -> Path:
    """The shipped folder of real EEGMMIDB S001 recordings (``data_samples/real``, runs 3-5)."""
    if not any(REAL_EEG.glob("*.edf")):
        raise FileNotFoundError(f"the shipped real recordings are missing from {REAL_EEG}; "
                                "restore them with `git checkout -- data_samples/real`")
    return REAL_EEG


@pytest.fixture(scope="session")
def eegmmidb_edf(eegmmidb_dir) -> Path:
    """One real 64-channel 160 Hz EDF+ file (S001R03: real left/right fist movement)."""
    return eegmmidb_dir / "S001R03.edf"


@pytest.fixture(scope="session")
def eegmmidb_files(eegmmidb_dir) -> list[Path]:
    """All real recordings at hand: the shipped ones, then any other S001 runs from the shared
    data folder when it is present (never needed, only an extra)."""
    files = sorted(eegmmidb_dir.glob("*.edf"))
    shipped = {f.name for f in files}
    extra = EEGMMIDB / "S001"
    if extra.is_dir():
        files += sorted(f for f in extra.glob("*.edf") if f.name not in shipped)
    return files


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest installs the app script as ``sys.modules['__main__']`` and leaves it
    there; a later test that spawns processes (Dask, DDP, process pools) would then re-run the
    app in every child. Put the real ``__main__`` back after each test."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


def _find_or_build_bundle(tmp_path_factory, on_build=None) -> Path:
    """The dashboard bundle for tests: $CLEF_TEST_BUNDLE, else data_samples/ when complete, else a
    24-session demo bundle built in a temp folder (``on_build(folder)`` may add to it)."""
    import os

    from clef.bundle import DEFAULT_ROOT, Bundle
    from clef.demo import build_demo_bundle
    from clef.errors import BundleNotFound

    if os.environ.get("CLEF_TEST_BUNDLE"):
        return Path(os.environ["CLEF_TEST_BUNDLE"])
    try:
        Bundle.locate(DEFAULT_ROOT)
        return DEFAULT_ROOT
    except BundleNotFound:
        out = tmp_path_factory.mktemp("bundle")
        build_demo_bundle(out, n_sessions=24, seed=0, minutes=2.0, progress=False)
        if on_build is not None:
            on_build(out)
        return out


@pytest.fixture(scope="session")
def find_or_build_bundle(tmp_path_factory):
    """``find_or_build_bundle(on_build=None) -> Path``: see ``_find_or_build_bundle``."""
    return lambda on_build=None: _find_or_build_bundle(tmp_path_factory, on_build)
