"""Browser tests: Playwright drives Debian's Chromium (headless) against the dashboard served on
127.0.0.1. Each test saves a screenshot to $CLEF_SCREENSHOTS (default: a folder under the system
temp dir, so a test run never rewrites tracked files); the README's come from
``CLEF_SCREENSHOTS=docs/screenshots pytest tests/e2e``."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from clef.demo import dashboard_command

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("CLEF_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "clef-screenshots")
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 90
UI_TIMEOUT_MS = 90_000
STEP_TIMEOUT_MS = 20_000  # one step after the page is up (a Back, a click's URL write)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def bundle_root(find_or_build_bundle) -> Path:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (`make browsers`)")
    return find_or_build_bundle()


def _warm_linker_cache(bundle_root) -> None:
    """Embed the concept linker's vocabulary once, here, into the on-disk cache the server reads
    (a fresh machine otherwise spends its first search on it, under the suite's load)."""
    from clef.bundle import Bundle
    from clef.index import concept_linker
    from clef.model import CLEFModel

    ckpt = Bundle.locate(bundle_root).checkpoint
    if ckpt is not None:
        concept_linker(CLEFModel.from_pretrained(ckpt)).prepare()


@pytest.fixture(scope="module")
def server(bundle_root, tmp_path_factory):
    """The dashboard as `clef dashboard` starts it, on a free loopback port; stopped afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    _warm_linker_cache(bundle_root)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(dashboard_command(bundle=bundle_root, port=port), stdout=fh,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no health answer in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    ctx = browser.new_context(viewport={"width": 1440, "height": 1600})
    pg = ctx.new_page()
    pg.set_default_timeout(UI_TIMEOUT_MS)
    yield pg
    ctx.close()


def _shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.wait_for_timeout(800)  # let plotly finish drawing
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


INDEXING = "Indexing the words of"  # the search page's note while the reports are indexed


def _reports_indexed(page) -> None:
    """Wait until the search page no longer ranks by the EEG alone: the reports' keyword index is
    built on a background thread and the page reruns by itself when it is. (The note, when
    shown, comes before the query box.)"""
    page.get_by_label("Describe what you are looking for").wait_for(timeout=UI_TIMEOUT_MS)
    page.wait_for_function(f"() => !document.body.innerText.includes({INDEXING!r})",
                           timeout=UI_TIMEOUT_MS)
    _idle(page)


def _idle(page) -> None:
    """Wait until Streamlit has finished the current script run (or fragment run, which may not
    show the status widget)."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached",
                           timeout=UI_TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('[data-testid=\"stApp\"]')"
                           "?.getAttribute('data-test-script-state') !== 'running'",
                           timeout=UI_TIMEOUT_MS)


def _no_exception(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_screenshots_stay_out_of_the_work_tree():
    """A plain test run writes its screenshots to a temporary folder, never over the README's
    (tracked) ones; `make screenshots` sets $CLEF_SCREENSHOTS=docs/screenshots on purpose."""
    if os.environ.get("CLEF_SCREENSHOTS"):
        pytest.skip("$CLEF_SCREENSHOTS names the folder on purpose")
    assert REPO.resolve() not in SHOTS.resolve().parents


def test_load_app(page, server):
    page.goto(server)
    page.get_by_role("heading", name="Cohort map").wait_for()
    page.locator(".js-plotly-plot").first.wait_for()
    _idle(page)
    _no_exception(page)
    assert page.get_by_text("sessions", exact=False).first.is_visible()
    _shot(page, "cohort_map")


@pytest.mark.parametrize("path", ["map", "search", "similar", "viewer", "model"])
def test_deep_links(page, server, path):
    """Every page's URL opens that page; /map (the default page) must not say "Page not found"."""
    headings = {"map": "Cohort map", "search": "Concept search", "similar": "Similar sessions",
                "viewer": "Session viewer", "model": "Model"}
    page.goto(f"{server}/{path}")
    page.locator('[data-testid="stMain"]').wait_for()
    if headings[path]:
        page.get_by_role("heading", name=headings[path]).first.wait_for()
    _idle(page)
    _no_exception(page)
    assert page.get_by_text("Page not found", exact=False).count() == 0
    assert page.get_by_text("You have requested page", exact=False).count() == 0


def test_concept_search_ranked_results(page, server):
    page.goto(f"{server}/search")
    _reports_indexed(page)
    box = page.get_by_label("Describe what you are looking for")
    box.fill("generalized slowing")
    box.press("Enter")
    page.get_by_text("Top 20 sessions for", exact=False).wait_for()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.locator(".js-plotly-plot").first.wait_for()  # the score histogram
    _idle(page)
    _no_exception(page)
    _shot(page, "concept_search")


def test_lasso_on_map_shows_selected_cohort(page, server):
    page.goto(server)
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    _idle(page)
    drag = plot.locator(".nsewdrag").first
    bb = drag.bounding_box()
    assert bb is not None
    # a lasso around the middle 60 % of the plot area (dragmode is lasso by default)
    x0, y0, w, h = bb["x"], bb["y"], bb["width"], bb["height"]
    pts = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8), (0.2, 0.25)]
    page.mouse.move(x0 + w * pts[0][0], y0 + h * pts[0][1])
    page.mouse.down()
    for fx, fy in pts[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=8)
    page.mouse.up()
    page.get_by_text("Selected cohort:", exact=False).wait_for()
    _idle(page)
    _no_exception(page)
    page.get_by_text("Profile against the rest").wait_for()
    page.get_by_text("Download selection (CSV)").wait_for()
    _shot(page, "map_selection")
    # the link opens the similar page on the first selected session, in the URL
    page.get_by_role("link", name="Find sessions similar to the first selected").click()
    page.wait_for_function("() => location.pathname.endsWith('/similar') && "
                           "location.search.includes('session=')")
    page.get_by_text("Nearest neighbours of", exact=False).first.wait_for()
    _idle(page)
    _no_exception(page)


def test_viewer_traces_and_spectrogram(page, server, bundle_root):
    page.goto(f"{server}/viewer")
    page.get_by_role("heading", name="Session viewer").wait_for()
    page.get_by_text("Whole session: click a time to jump there").wait_for()
    page.get_by_text("Double banana ·", exact=False).wait_for()  # the traces' title
    page.locator(".js-plotly-plot").nth(2).wait_for()  # the spectrograms and the timeline
    _idle(page)
    _no_exception(page)
    _shot(page, "session_viewer")
    # a click on the spectrogram moves the traces to that time
    title = page.get_by_text("Double banana · 100 µV/division ·", exact=False).first
    assert " 0.0 s" in title.text_content()
    bb = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    x, y = bb["x"] + 0.75 * bb["width"], bb["y"] + 0.5 * bb["height"]  # the clickable time row
    page.mouse.move(x - 20, y)
    page.mouse.move(x, y, steps=4)
    page.mouse.click(x, y)
    page.wait_for_function("() => ![...document.querySelectorAll('strong')].some("
                           "t => t.textContent.includes('µV/division · 0.0 s'))")
    _idle(page)
    start = float(title.text_content().split("·")[2].strip().split()[0])
    assert start > 30.0, title.text_content()


def test_upload_real_recording_shows_neighbours(page, server, eegmmidb_edf):
    page.goto(f"{server}/similar")
    page.get_by_text("Upload a recording").click()
    page.locator('input[type="file"]').set_input_files(str(eegmmidb_edf))
    page.get_by_text(f"Read {eegmmidb_edf.name}", exact=False).wait_for()
    page.get_by_text(f"Nearest neighbours of {eegmmidb_edf.name}").wait_for()
    _idle(page)
    _no_exception(page)
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    _shot(page, "upload_neighbours")



# ---- issue 18: state in the URL, viewer, compare, upload honesty -------------------------------

def _ids(bundle_root, n: int = 3) -> list[str]:
    import pandas as pd

    from clef.bundle import Bundle

    table = pd.read_parquet(Bundle.locate(bundle_root).index / "sessions.parquet")
    return table["session_id"].astype(str).head(n).tolist()


def _lasso(page, lo: float = 0.3, hi: float = 0.7) -> None:
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for()
    _idle(page)
    bb = plot.locator(".nsewdrag").first.bounding_box()
    x0, y0, w, h = bb["x"], bb["y"], bb["width"], bb["height"]
    pts = [(lo, lo), (hi, lo), (hi, hi), (lo, hi), (lo, lo + 0.05)]
    page.mouse.move(x0 + w * pts[0][0], y0 + h * pts[0][1])
    page.mouse.down()
    for fx, fy in pts[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=8)
    page.mouse.up()


def test_back_and_reload_restore_query_and_selection(page, server):
    """The map's concept query and a lasso selection live in the URL: Back and reload restore
    them (they were lost before issue 18)."""
    page.goto(f"{server}/map?color=concept+score%E2%80%A6&concept=burst+suppression")
    box = page.get_by_label("Concept")
    box.wait_for()
    _idle(page)
    assert box.input_value() == "burst suppression"
    _lasso(page)
    heading = page.get_by_text("Selected cohort:", exact=False).first
    heading.wait_for()
    _idle(page)
    selected = heading.text_content()
    page.wait_for_function("() => location.search.includes('sel=lasso')")
    box.fill("generalized slowing")
    box.press("Enter")
    page.wait_for_function("() => location.search.includes('generalized')")
    _idle(page)
    page.go_back()  # the query before: burst suppression, the selection kept
    page.wait_for_function("() => location.search.includes('burst')")
    _idle(page)
    page.wait_for_function("() => document.querySelector('input[aria-label=\"Concept\"]')"
                           ".value === 'burst suppression'")
    assert page.get_by_text("Selected cohort:", exact=False).first.text_content() == selected
    page.reload()  # a reload (or the link shared) shows the same selection
    page.get_by_text("Selected cohort:", exact=False).first.wait_for()
    _idle(page)
    _no_exception(page)
    assert page.get_by_text("Selected cohort:", exact=False).first.text_content() == selected


def test_session_link_opens_that_session(page, server, bundle_root):
    sid = _ids(bundle_root, 3)[2]
    page.goto(f"{server}/viewer?session={sid}&t=120")
    page.get_by_role("heading", name="Session viewer").wait_for()
    title = page.get_by_text("Double banana · 100 µV/division ·", exact=False).first
    title.wait_for()
    _idle(page)
    _no_exception(page)
    shown = page.locator('[data-testid="stSelectbox"] input').first.input_value()
    assert shown == sid, shown
    assert " 120.0 s" in title.text_content()
    assert f"session={sid}" in page.url
    # the montage reruns only the traces (a fragment) and still reaches the URL
    page.locator('[data-testid="stRadio"]').first.get_by_text("Average reference").click()
    page.wait_for_function("() => location.search.includes('montage=average')")
    page.get_by_text("Average reference · 100 µV/division · 120.0 s", exact=False).first.wait_for()
    _idle(page)
    _no_exception(page)


def _trace_image_src(page) -> str:
    """The address of the viewer's traces' image (the only image >= 1000 px wide)."""
    return page.evaluate("() => [...document.images].find(i => i.naturalWidth >= 1000).src")


def test_viewer_event_click_and_display_filter(page, server, bundle_root):
    page.goto(f"{server}/viewer?session={_ids(bundle_root, 1)[0]}&window=5")
    title = page.get_by_text("Double banana ·", exact=False).first
    title.wait_for()
    page.get_by_text("Events (", exact=False).wait_for()
    _idle(page)
    assert " 0.0 s" in title.text_content()
    grid = page.locator('[data-testid="stDataFrame"]').first
    bb = grid.bounding_box()
    page.mouse.click(bb["x"] + 12, bb["y"] + 35 * 4 + 17)  # the 4th event's row marker
    page.wait_for_function("() => ![...document.querySelectorAll('strong')].some("
                           "t => t.textContent.includes('µV/division · 0.0 s'))")
    _idle(page)
    moved = title.text_content()
    assert " 0.0 s" not in moved, moved
    assert "t=" in page.url
    before = _trace_image_src(page)
    page.get_by_label("Notch (Hz)").click()  # a display filter changes the trace
    page.get_by_role("option", name="50").click()
    page.get_by_text("notch 50 Hz", exact=False).first.wait_for()
    _idle(page)
    _no_exception(page)
    assert _trace_image_src(page) != before  # the traces' image was drawn again
    # the URL is written after the traces are drawn, in the same (fragment) run
    page.wait_for_function("() => location.search.includes('notch=50')", timeout=STEP_TIMEOUT_MS)
    _shot(page, "session_viewer_events")


def test_compare_view_renders_two_sessions(page, server, bundle_root):
    a, b = _ids(bundle_root, 2)
    page.goto(f"{server}/compare?a={a}&b={b}")
    page.get_by_role("heading", name="Compare two sessions").wait_for()
    page.get_by_text(f"A: {a}").first.wait_for()
    page.get_by_text(f"B: {b}").first.wait_for()
    page.get_by_text("Where they agree", exact=False).first.wait_for()
    _idle(page)
    _no_exception(page)
    assert page.locator(".js-plotly-plot").count() >= 5  # 2 spectrograms, 2 traces, similarity
    _shot(page, "compare")


def test_upload_reports_dropped_channels(page, server, eegmmidb_edf):
    page.goto(f"{server}/similar")
    page.get_by_text("Upload a recording").click()
    page.locator('input[type="file"]').set_input_files(str(eegmmidb_edf))
    msg = page.get_by_text(f"Read {eegmmidb_edf.name}", exact=False).first
    msg.wait_for()
    _idle(page)
    _no_exception(page)
    text = msg.text_content()
    assert "160 Hz, 64 channels" in text and "dropped 45" in text, text


# ---- Back past a reload: every step of the URL history restores what was on screen ------------

QUERY_BOX = 'input[aria-label="Describe what you are looking for"]'


def _selected(page) -> str | None:
    return page.evaluate("() => [...document.querySelectorAll('h3')].map(e => e.textContent)"
                         ".find(t => t.startsWith('Selected cohort')) || null")


def test_back_past_a_reload_restores_each_query(page, server):
    """Two queries, the menu to another page, a reload, then Back three times: each Back shows
    the query of that step in the box (not a stale one), and no step is a page with an empty
    query under another page's parameters (seen: /search?session=...)."""
    page.goto(f"{server}/search")
    box = page.get_by_label("Describe what you are looking for")
    box.wait_for()
    _idle(page)
    for q in ("generalized slowing", "burst suppression"):
        box.fill(q)
        box.press("Enter")
        page.wait_for_function("(q) => new URLSearchParams(location.search).get('q') === q",
                               arg=q)
        _idle(page)
    page.get_by_role("link", name="Similar sessions").click()
    page.get_by_role("heading", name="Similar sessions").wait_for()
    _idle(page)
    page.reload()
    page.get_by_role("heading", name="Similar sessions").wait_for()
    _idle(page)
    for q in ("burst suppression", "generalized slowing", ""):
        page.go_back()
        page.wait_for_function(
            "(q) => location.pathname.endsWith('/search') && "
            "(new URLSearchParams(location.search).get('q') || '') === q", arg=q,
            timeout=STEP_TIMEOUT_MS)
        page.wait_for_function(f"(q) => document.querySelector('{QUERY_BOX}')?.value === q",
                               arg=q, timeout=STEP_TIMEOUT_MS)
        _idle(page)
        _no_exception(page)
        assert "session=" not in page.url, page.url


def test_map_selection_kept_through_relasso_recolour_and_back_past_reload(page, server):
    """A second lasso replaces the first (it was dropped: the chart was redrawn under it), a new
    colouring keeps the selection (it cleared it), and after a reload Back walks back through
    both selections to the empty map."""
    page.goto(server)
    page.locator(".js-plotly-plot").first.wait_for()
    _idle(page)
    steps = []
    for lo, hi in ((0.3, 0.7), (0.45, 0.85)):  # (both hold sessions of the sample map)
        _lasso(page, lo, hi)
        page.wait_for_function("(prev) => location.search.includes('sel=lasso') && "
                               "location.search !== prev", arg=steps[-1][0] if steps else "",
                               timeout=STEP_TIMEOUT_MS)
        _idle(page)
        page.get_by_text("Profile against the rest").wait_for(timeout=STEP_TIMEOUT_MS)
        steps.append((page.evaluate("location.search"), _selected(page)))
    assert steps[0][1] and steps[1][1] and steps[0][0] != steps[1][0]
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="sex", exact=True).click()
    page.wait_for_function("() => location.search.includes('color=sex')",
                           timeout=STEP_TIMEOUT_MS)
    _idle(page)
    assert _selected(page) == steps[1][1]
    sel = "(s) => new URLSearchParams(s).get('sel')"
    assert page.evaluate(f"({sel})(location.search)") == page.evaluate(sel, steps[1][0])
    page.reload()
    page.get_by_text("Profile against the rest").wait_for()
    _idle(page)
    assert _selected(page) == steps[1][1]
    for search, heading in reversed(steps):
        page.go_back()
        page.wait_for_function("(s) => location.search === s", arg=search,
                               timeout=STEP_TIMEOUT_MS)
        page.wait_for_function("(h) => [...document.querySelectorAll('h3')].some("
                               "e => e.textContent === h)", arg=heading, timeout=STEP_TIMEOUT_MS)
        _idle(page)
        _no_exception(page)
    page.go_back()
    page.get_by_text("Draw a lasso around sessions", exact=False).wait_for(
        timeout=STEP_TIMEOUT_MS)
    assert _selected(page) is None

