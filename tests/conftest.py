"""Shared fixtures. Real recordings come from ../shared/data/eegmmidb/ and tests skip without them."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EEGMMIDB = REPO.parent / "shared" / "data" / "eegmmidb"


@pytest.fixture(scope="session")
def eegmmidb_dir() -> Path:
    """Folder of the real EEGMMIDB S001 recordings; skips the test when absent."""
    folder = EEGMMIDB / "S001"
    if not folder.is_dir() or not any(folder.glob("*.edf")):
        pytest.skip(f"real recordings not found at {folder}")
    return folder


@pytest.fixture(scope="session")
def eegmmidb_edf(eegmmidb_dir) -> Path:
    """One real 64-channel 160 Hz EDF+ file (S001R03: real left/right fist movement)."""
    return eegmmidb_dir / "S001R03.edf"


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest installs the app script as ``sys.modules['__main__']`` and leaves it
    there; a later test that spawns processes (Dask, DDP, process pools) would then re-run the
    app in every child. Put the real ``__main__`` back after each test."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
