"""Own cohort end to end (issue 16): the README's own-recordings commands, run as written on a
folder of real recordings (cropped from the shipped EEGMMIDB files, not made by the generator) with
TUH-style ``name.txt`` reports and an EHR CSV, then ``clef dashboard --cohort`` in Chromium with
the cohort map drawn."""
from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / "data_samples" / "real"
CLEF = Path(sys.executable).with_name("clef")
MARKER = "<!-- own-cohort commands:"
CHROMIUM = Path("/usr/bin/chromium")  # as in test_browser.py
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 90_000
N_PATIENTS = 4  # x 3 real runs = 12 sessions (a map needs at least 4)


def readme_commands() -> list[str]:
    """The ``clef ...`` lines of the README's own-cohort block, comments stripped."""
    text = (REPO / "README.md").read_text()
    assert MARKER in text, "README.md lost its own-cohort command block"
    block = text.split(MARKER, 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("clef ")]


def make_recordings(root: Path) -> Path:
    """RECORDINGS/patNN/patNN_s001r0X.edf + .txt (different minutes of the real runs), ehr.csv."""
    import mne

    rec = root / "RECORDINGS"
    rows = []
    for k in range(N_PATIENTS):
        folder = rec / f"pat{k:02d}"
        folder.mkdir(parents=True)
        for edf in sorted(REAL.glob("S001R0*.edf")):
            name = f"pat{k:02d}_{edf.stem.lower()}"
            raw = mne.io.read_raw_edf(edf, preload=True, verbose="error")
            raw.crop(10 + 15 * k, 70 + 15 * k)  # a different minute per patient
            mne.export.export_raw(folder / f"{name}.edf", raw, fmt="edf", verbose="error")
            finding = "mild generalized slowing" if k % 2 else "normal awake EEG"
            (folder / f"{name}.txt").write_text(
                "CLINICAL HISTORY: 34 year old woman with headaches, seen 03/05/2024.\n"
                f"IMPRESSION: {finding}.\n")
            rows.append({"file": f"{name}.edf", "age": 30 + k, "sex": "FM"[k % 2],
                         "diagnoses": "G43.909" if k % 2 else "R51"})
    pd.DataFrame(rows).to_csv(root / "ehr.csv", index=False)
    return rec


def test_readme_block_is_the_four_commands():
    cmds = [shlex.split(c)[:3] for c in readme_commands()]
    assert [c[1] for c in cmds] == ["cohort", "embed", "index", "dashboard"], cmds


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(proc, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"clef dashboard exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"no health answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def test_own_cohort_readme_commands_to_map_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make browsers`)")
    from playwright.sync_api import sync_playwright

    make_recordings(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PATH": f"{CLEF.parent}:{os.environ['PATH']}"}
    *build, dash = readme_commands()
    for line in build:  # run as written, in a folder holding RECORDINGS/ and ehr.csv
        res = subprocess.run(shlex.split(line), cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300, check=False)
        assert res.returncode == 0, f"{line}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    cohort = tmp_path / "mycohort"
    sessions = pd.read_parquet(cohort / "sessions.parquet")
    assert len(sessions) == 3 * N_PATIENTS and sessions["report"].notna().all()
    assert not sessions["report"].str.contains("03/05/2024").any()  # de-identified at the door
    for part in ("store/manifest.json", "index/manifest.json", "index/map/map.json"):
        assert (cohort / part).is_file(), f"{part} not written where the README says"

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "dashboard.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([*shlex.split(dash), "--port", str(port)], cwd=tmp_path,
                                env=env, stdout=fh, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _wait_healthy(proc, url, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.goto(url)
            page.get_by_role("heading", name="Cohort map").wait_for()
            page.locator(".js-plotly-plot .nsewdrag").first.wait_for()  # the map's plot area
            page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached")
            body = page.locator('[data-testid="stApp"]').inner_text()
            n_exceptions = page.locator('[data-testid="stException"]').count()
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
    assert "has no cohort map" not in body
    assert n_exceptions == 0, body[:3000]
    assert re.search(rf"\b{3 * N_PATIENTS} sessions\b", body), body[:1500]  # ours, not the sample
