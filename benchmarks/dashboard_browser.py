"""Dashboard latency as a user feels it: click-to-paint in Chromium at 10k and 100k sessions.

For each size a bundle is made as in ``benchmarks/dashboard.py`` (``scaled_bundle``), the dashboard
is started on it as ``clef dashboard`` starts it, and headless Chromium (Playwright, Debian's
``/usr/bin/chromium``) performs the main interactions. Each one is timed from the input event
that triggers it (its ``event.timeStamp``: the ``click``, the ``mouseup`` that ends a lasso, the
``keydown`` of Enter) to the first animation frame after

- Streamlit ran the script (or fragment) for it and is idle again
  (``data-test-script-state`` went to ``running``, then back to ``notRunning``),
- no element is still marked stale (``data-stale="true"``), and
- the element the user waits for shows its new content (a chart title, legend, heading, table).

The first repetition of each interaction is a warm-up and not counted; the table holds the median
(and min-max) of the others. Interactions:

- map: colour by another field (a colouring not drawn before in this run)
- map: lasso -> the selected cohort's table and profile (a different shape each time)
- map: the link "Find sessions similar to the first selected" -> similar page with its neighbours
- search: a new concept query (Enter) -> ranked table
- similar: another session id (Enter) -> neighbours table
- viewer: change montage (each of the five in turn) -> traces redrawn (their title names it)
- viewer: ▶ (move in time by one window) -> traces redrawn (their title names the time)

Usage: ``python benchmarks/dashboard_browser.py [--sizes 10000 100000] [--repeats 5] [--out F]``
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clef.bundle import DEFAULT_ROOT, Bundle
from clef.demo import dashboard_command


def _server_benchmark():
    """benchmarks/dashboard.py (its bundle scaling and browser settings), loaded by path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_dashboard",
                                                  Path(__file__).with_name("dashboard.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_SERVER = _server_benchmark()
CHROME_ARGS, CHROMIUM, _free_port, scaled_bundle, wait_healthy = (
    _SERVER.CHROME_ARGS, _SERVER.CHROMIUM, _SERVER._free_port, _SERVER.scaled_bundle,
    _SERVER.wait_healthy)

TIMEOUT_MS = 120_000
EVERYTHING = "box%3A-1000%2C1000%2C-1000%2C1000"  # a map selection holding every session

# Armed before each action: remembers the trusted input event's time; the wait ends once no run
# is going, nothing is stale and the target's signature differs from before (the evidence that
# the run happened: one of ~50 ms can start and end within one React commit, unseen).
ARM_JS = """([evType, sigSrc]) => {
  const lat = window.__lat = {t0: null, sig: null, evType};
  lat.sigFn = new Function('return (' + sigSrc + ')');
  lat.sig0 = lat.sigFn();
  if (!window.__armed) {
    window.__armed = true;
    for (const t of ['click', 'mouseup', 'keydown']) {
      window.addEventListener(t, e => {
        const l = window.__lat;
        if (l && l.t0 === null && e.isTrusted && e.type === l.evType &&
            (t !== 'keydown' || e.key === 'Enter')) l.t0 = e.timeStamp;
      }, true);
    }
  }
}"""

WAIT_JS = """(limitMs) => new Promise((resolve, reject) => {
  const lat = window.__lat;
  const start = performance.now();
  const tick = () => {
    if (performance.now() - start > limitMs) {
      reject(new Error('no painted update within ' + limitMs + ' ms (signature ' + lat.sig0 + ')'));
      return;
    }
    const app = document.querySelector('[data-testid="stApp"]');
    let sig = null;
    try { sig = lat.sigFn(); } catch (e) { sig = null; }
    const idle = app && app.getAttribute('data-test-script-state') === 'notRunning';
    const stale = document.querySelector('[data-stale="true"]') !== null;
    if (lat.t0 !== null && idle && !stale && sig !== null && sig !== lat.sig0) {
      requestAnimationFrame(() => resolve({ms: performance.now() - lat.t0, sig,
                                           t0: performance.timeOrigin + lat.t0}));
      return;
    }
    requestAnimationFrame(tick);
  };
  tick();
})"""

# signatures of what the user waits for
SIG_MAP = ("[...(document.querySelector('.js-plotly-plot')||document.body)"
           ".querySelectorAll('.legendtitletext, .legendtext, .cbtitle text, .gtitle')]"
           ".map(e => e.textContent).join('|') || null")
SIG_SELECTION = ("(() => { const h = [...document.querySelectorAll('h3')].find(e => "
                 "e.textContent.startsWith('Selected cohort')); "
                 "const n = document.querySelectorAll('.js-plotly-plot').length; "
                 "return h && n >= 2 ? location.search + '|' + h.textContent : null; })()")
SIG_SIMILAR = ("(() => { const h = [...document.querySelectorAll('h3')].find(e => "
               "e.textContent.startsWith('Nearest neighbours of')); "
               "return h && document.querySelector('[data-testid=\"stDataFrame\"]') ? "
               "location.pathname + '|' + h.textContent : null; })()")
SIG_SEARCH = ("(() => { const e = [...document.querySelectorAll('h3, p')].find(e => "
              "e.textContent.startsWith('Top ')); return e ? e.textContent : null; })()")
# the viewer's traces: their title (a chart's, or the markdown above the traces' image) and, when
# the traces are an image (>= 1000 px wide), that image loaded from a new address
SIG_TRACES = ("(() => { const t = [...document.querySelectorAll('.gtitle, "
              "[data-testid=\"stMarkdownContainer\"] strong')].map(e => e.textContent)"
              ".find(t => t.includes('µV/division')); if (!t) return null; "
              "const im = [...document.images].find(i => i.naturalWidth >= 1000); "
              "if (!im) return t; if (!im.complete) return null; "
              "const s0 = (window.__lat && window.__lat.sig0) || ''; "
              "return s0.endsWith('|' + im.src) ? s0 : t + '|' + im.src; })()")


def _idle(page) -> None:
    page.wait_for_function("() => document.querySelector('[data-testid=\"stApp\"]')"
                           "?.getAttribute('data-test-script-state') === 'notRunning' && "
                           "!document.querySelector('[data-stale=\"true\"]')", timeout=TIMEOUT_MS)
    page.wait_for_timeout(300)


def server_part(run_log: Path | None, t0_ms: float, paint_ms: float) -> float | None:
    """Milliseconds from the click (Unix ms) to the end of the last script run that started
    after it and ended before the paint, from ``timed_streamlit.py``'s log (None: no such run)."""
    if run_log is None or not run_log.exists():
        return None
    ends = [float(e) * 1e3 for s, e in (ln.split() for ln in run_log.read_text().splitlines())
            if float(s) * 1e3 >= t0_ms - 5 and float(e) * 1e3 <= t0_ms + paint_ms]
    return max(ends) - t0_ms if ends else None


def measure_parts(page, ev_type: str, sig: str, action,
                  run_log: Path | None = None) -> tuple[float, float | None]:
    """Milliseconds from the ``ev_type`` event that ``action()`` fires to the painted update, and
    to the end of the server's script run for it (:func:`server_part`)."""
    page.evaluate(ARM_JS, [ev_type, sig])
    action()
    out = page.evaluate(WAIT_JS, TIMEOUT_MS)
    _idle(page)
    return float(out["ms"]), server_part(run_log, float(out["t0"]), float(out["ms"]))


def measure(page, ev_type: str, sig: str, action) -> float:
    """Milliseconds from the ``ev_type`` event that ``action()`` fires to the painted update."""
    return measure_parts(page, ev_type, sig, action)[0]


def _lasso(page, shift: float) -> None:
    bb = page.locator(".js-plotly-plot").first.locator(".nsewdrag").first.bounding_box()
    x0, y0, w, h = bb["x"], bb["y"], bb["width"], bb["height"]
    a, b = 0.25 + shift, 0.65 + shift
    pts = [(a, a), (b, a), (b, b), (a, b), (a, a + 0.05)]
    page.mouse.move(x0 + w * pts[0][0], y0 + h * pts[0][1])
    page.mouse.down()
    for fx, fy in pts[1:]:
        page.mouse.move(x0 + w * fx, y0 + h * fy, steps=6)
    page.mouse.up()


BLOCKS = ("map_colour", "map_lasso", "map_to_similar", "search_query", "similar_pick", "viewer")


def run_size(bundle: Path, repeats: int, log: Path,
             only: tuple[str, ...] = BLOCKS) -> dict[str, list[tuple[float, float | None]]]:
    """Every interaction ``repeats + 1`` times (the first is a warm-up) on a fresh server.

    Returns, per interaction, (click-to-paint, click to the end of its script run) in ms."""
    import pandas as pd
    from playwright.sync_api import sync_playwright

    sessions = pd.read_parquet(bundle / "index" / "sessions.parquet")
    originals = [s for s in sessions["session_id"].astype(str) if "~" not in s]
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    run_log = log.with_suffix(".runs")  # each script run's span (timed_streamlit.py)
    run_log.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "CLEF_RUN_LOG": str(run_log)}
    cmd = dashboard_command(bundle=bundle, port=port)
    if cmd[1:3] != ["-m", "streamlit"]:
        raise RuntimeError(f"expected 'python -m streamlit ...' from dashboard_command: {cmd}")
    # the same command, with the timed launcher
    cmd = [cmd[0], str(Path(__file__).with_name("timed_streamlit.py")), *cmd[3:]]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh,
                                stderr=subprocess.STDOUT, env=env, start_new_session=True)
    out: dict[str, list[tuple[float, float | None]]] = {}
    try:
        wait_healthy(url, proc, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROME_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            n = repeats + 1

            def timed(ev_type, sig, action):
                return measure_parts(page, ev_type, sig, action, run_log)

            def rec(name, parts):
                out.setdefault(name, []).append(parts)
                ms, server = parts
                print(f"  {name}: {ms:.0f} ms (server run ends at "
                      f"{'-' if server is None else f'{server:.0f}'} ms)", flush=True)

            # ---- map: colour
            def map_colour():
                page.goto(url)
                page.locator(".js-plotly-plot").first.wait_for()
                _idle(page)
                time.sleep(3)  # the model warm-up thread (state.warm_up) finishes
                box = page.locator('[data-testid="stSelectbox"]').first
                box.click()
                options = [o.strip() for o in page.get_by_role("option").all_inner_texts()]
                page.keyboard.press("Escape")
                skip = {"(none)", "concept score…", "site"}
                colours = [o for o in options if o not in skip and not o.startswith("task")][:n]
                colours += [o for o in options if o.startswith("task")][: n - len(colours)]
                for c in colours:
                    box.click()
                    opt = page.get_by_role("option", name=c, exact=True)
                    rec("map: colour by another field",
                        timed("click", SIG_MAP, opt.click))

            # ---- map: lasso -> table + profile (each on a freshly opened map: a lasso drawn
            def map_lasso():
                # over another one is a different interaction, and was lost before issue 18's fix)
                for i in range(n):
                    page.goto(url)
                    page.locator(".js-plotly-plot").first.wait_for()
                    _idle(page)
                    rec("map: lasso -> selected table + profile",
                        timed("mouseup", SIG_SELECTION,
                                lambda s=0.03 * (i % 4): _lasso(page, s)))

            # ---- map -> similar (link)
            def map_to_similar():
                sel_url = page.url if "sel=" in page.url else f"{url}/?sel={EVERYTHING}"
                for _ in range(n):
                    page.goto(sel_url)
                    btn = page.get_by_role("link", name="Find sessions similar to the first "
                                                          "selected")
                    btn.wait_for()
                    _idle(page)
                    rec("map: open similar sessions (link) -> neighbours",
                        timed("click", SIG_SIMILAR, btn.click))

            # ---- search: new query
            def search_query():
                page.goto(f"{url}/search")
                q = page.get_by_label("Describe what you are looking for")
                q.wait_for()
                _idle(page)
                # the reports' keyword index is built in the background meanwhile (the EEG
                # ranks alone until then): time fused rankings
                page.wait_for_function("() => !document.body.innerText.includes("
                                       "'Indexing the words of')", timeout=TIMEOUT_MS)
                _idle(page)
                queries = ["generalized slowing", "left temporal sharp waves", "burst suppression",
                           "frontal intermittent rhythmic delta", "benzodiazepine effect",
                           "photic driving", "triphasic waves", "posterior dominant rhythm 9 Hz"]
                for i in range(n):
                    q.fill(queries[i % len(queries)])
                    rec("search: new concept query -> ranked table",
                        timed("keydown", SIG_SEARCH, lambda: q.press("Enter")))

            # ---- similar: another session
            def similar_pick():
                page.goto(f"{url}/similar?session={originals[0]}")
                page.get_by_text("Nearest neighbours of", exact=False).first.wait_for()
                _idle(page)
                box = page.locator('input[type="text"][aria-label="Session id"]')
                for i in range(n):
                    box.fill(originals[10 + 7 * i])
                    rec("similar: another session id -> neighbours",
                        timed("keydown", SIG_SIMILAR, lambda: box.press("Enter")))

            # ---- viewer: montage, time
            def viewer():
                page.goto(f"{url}/viewer?session={originals[1]}")
                page.get_by_text("µV/division", exact=False).first.wait_for()
                _idle(page)
                # every montage in turn: the viewer keeps recent images (and draws the next
                # window ahead), so going back and forth between two would time a cached one
                montages = ["Average reference", "Transverse bipolar", "Cz reference",
                            "Laplacian (CSD)", "Double banana"]
                # armed only once the traces' image has loaded: armed before, the image
                # loading would count as the update (an 11-ms "step" was once recorded)
                drawn = f"() => ({SIG_TRACES}) !== null"
                for i in range(n):
                    label = page.locator('[data-testid="stRadio"]').first.get_by_text(
                        montages[i % len(montages)], exact=True)
                    page.wait_for_function(drawn, timeout=TIMEOUT_MS)
                    rec("viewer: change montage -> traces",
                        timed("click", SIG_TRACES, label.click))
                nxt = page.get_by_role("button", name="▶")
                for _ in range(n):
                    page.wait_for_function(drawn, timeout=TIMEOUT_MS)
                    rec("viewer: move in time (▶) -> traces",
                        timed("click", SIG_TRACES, nxt.click))

            for block in (map_colour, map_lasso, map_to_similar, search_query, similar_pick,
                          viewer):
                if block.__name__ not in only:
                    continue
                try:
                    block()
                except Exception as exc:  # noqa: BLE001 - report it, measure the others
                    print(f"  {block.__name__} failed: {str(exc)[:300]}", flush=True)
            browser.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return out


def _cell(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})" if values else "-"


def table(results: dict[int, dict[str, list[tuple[float, float | None]]]]) -> list[str]:
    """Per size: click-to-paint, and the part of it until the server's last message."""
    sizes = sorted(results)
    names = list(dict.fromkeys(k for r in results.values() for k in r))
    lines = ["| interaction | " + " | ".join(f"{n:,}: click-to-paint | {n:,}: server part"
                                               for n in sizes) + " |",
             "|---|" + "---|---|" * len(sizes)]
    for name in names:
        cells = []
        for n in sizes:
            runs = results[n].get(name, [])[1:]  # the first is the warm-up
            cells.append(_cell([ms for ms, _ in runs]))
            cells.append(_cell([sv for _, sv in runs if sv is not None]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bundle", type=Path, default=DEFAULT_ROOT, help="sample bundle to scale")
    ap.add_argument("--out", type=Path, default=None, help="markdown table (default: print)")
    ap.add_argument("--label", default="", help="heading of the table (e.g. 'after')")
    ap.add_argument("--only", nargs="*", choices=BLOCKS, default=list(BLOCKS),
                    help="measure only these groups of interactions")
    args = ap.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"{CHROMIUM} not found")
    base = Bundle.locate(args.bundle)
    work = Path(tempfile.mkdtemp(prefix="clef-bench-browser-"))
    load = os.getloadavg()[0]
    results: dict[int, dict[str, list[float]]] = {}
    try:
        for n in args.sizes:
            print(f"{n} sessions: building the bundle ...", flush=True)
            b = scaled_bundle(base, n, work / f"n{n}")
            results[n] = run_size(b, args.repeats, work / f"streamlit-{n}.log", tuple(args.only))
            shutil.rmtree(b, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [f"### Click-to-paint in Chromium{' — ' + args.label if args.label else ''}", "",
             (f"Command: `python benchmarks/dashboard_browser.py --sizes "
              f"{' '.join(map(str, args.sizes))} --repeats {args.repeats}"
              + ("" if set(args.only) == set(BLOCKS) else f" --only {' '.join(args.only)}")
              + "`; "
              f"{platform.platform()}, {os.cpu_count()} CPU cores, load average at start "
              f"{load:.1f}, end {os.getloadavg()[0]:.1f}. Median of {args.repeats} after one "
              "warm-up, milliseconds from the input event to the first frame after the updated "
              "element is drawn; the server part ends when the script (or fragment) run for it "
              "ends (`benchmarks/timed_streamlit.py`); the rest is the transfer and the "
              "browser drawing."), "", *table(results), ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
